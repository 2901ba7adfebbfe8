//! Errors of scenario set-up and runs.

/// Everything that can stop a scenario.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario, its data or its parameters cannot be run; the message says what and why.
    #[error("{message}")]
    Invalid { message: String },
    /// The run went unstable: a depth became NaN, negative or absurd.
    #[error("the run went unstable at t = {time_s:.2} s in cell column {col}, row {row} (depth {depth_m} m); try a smaller alpha or dt_max, or a coarser resolution")]
    Unstable {
        time_s: f64,
        col: usize,
        row: usize,
        depth_m: f64,
    },
    #[error(transparent)]
    Engine(#[from] cim_engine::EngineError),
}

impl ScenarioError {
    pub(crate) fn invalid(message: impl Into<String>) -> ScenarioError {
        ScenarioError::Invalid {
            message: message.into(),
        }
    }

    pub(crate) fn io(path: &std::path::Path, e: std::io::Error) -> ScenarioError {
        ScenarioError::invalid(format!("{}: {e}", path.display()))
    }
}
