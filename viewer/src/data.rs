//! The viewer's data source in Bevy: the [`Data`] resource, and [`Pending`], an answer a system
//! asked for and picks up in a later frame, so no frame waits on the project file.

use std::sync::atomic::{AtomicUsize, Ordering};

use bevy::prelude::*;
use bevy::tasks::{futures::check_ready, AsyncComputeTaskPool, Task};

use crate::model::source::Source;

pub use crate::model::source::{wait, DataSource, Fetch, ProjectSource};

/// Where project data comes from (the project file natively; a server in the browser later).
#[derive(Resource, Clone)]
pub struct Data(pub Source);

/// Answers asked for and not yet picked up, in this process.
static IN_FLIGHT: AtomicUsize = AtomicUsize::new(0);

/// How many answers are on their way (an image is taken only when none is: the scene it shows
/// is complete).
pub fn in_flight() -> usize {
    IN_FLIGHT.load(Ordering::SeqCst)
}

/// An answer on its way, run on the async compute pool.
pub struct Pending<T>(Option<Task<anyhow::Result<T>>>);

impl<T> Drop for Pending<T> {
    fn drop(&mut self) {
        if self.0.take().is_some() {
            IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

impl<T> Default for Pending<T> {
    fn default() -> Self {
        Pending(None)
    }
}

impl<T: Send + 'static> Pending<T> {
    /// Asks for `fetch`, dropping an answer still on its way (the newer question wins).
    pub fn ask(&mut self, fetch: impl std::future::Future<Output = anyhow::Result<T>> + Send + 'static) {
        let task = AsyncComputeTaskPool::get_or_init(bevy::tasks::TaskPool::new).spawn(fetch);
        if self.0.replace(task).is_none() {
            IN_FLIGHT.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// The answer, once it has come (then it is taken).
    pub fn take(&mut self) -> Option<anyhow::Result<T>> {
        let answer = check_ready(self.0.as_mut()?)?;
        self.0 = None;
        IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
        Some(answer)
    }

    /// Whether an answer is on its way.
    pub fn waiting(&self) -> bool {
        self.0.is_some()
    }
}
