//! A stored run played back: what one side of the window plays (a flood's water, a traffic
//! run's vehicles, or both where the traffic drove round the flood's closed roads), and the
//! playback clock over it.

use std::sync::Arc;

use crate::model::flood::RunFrames;
use crate::model::source::{run_named, DataSource};
use crate::model::traffic::TrafficRun;

/// What one side plays.
#[derive(Clone, Debug)]
pub struct SideRun {
    /// The run asked for.
    pub name: String,
    /// The water shown: the run's own depth frames, or those of the flood a traffic run took
    /// its closures from.
    pub flood: Option<RunFrames>,
    /// The vehicles and road states of a traffic run.
    pub traffic: Option<Arc<TrafficRun>>,
    /// Why something the run names cannot be shown (its flood run has gone), for the UI.
    pub notice: Option<String>,
}

impl SideRun {
    /// Run `name` from `source`: a flood run's frames; a traffic run's vehicles and, where its
    /// closures came from a flood run, that run's water. A clear error naming the run (and the
    /// runs there are) where it is missing or has nothing to play.
    pub async fn load(source: &dyn DataSource, name: &str) -> anyhow::Result<SideRun> {
        let record = run_named(source, name).await?;
        if record.model != "traffic" {
            return Ok(SideRun {
                name: name.to_string(),
                flood: Some(RunFrames::load(source, name).await?),
                traffic: None,
                notice: None,
            });
        }
        let traffic = TrafficRun::load(source, name).await?;
        let (mut flood, mut notice) = (None, None);
        if let Some(f) = &traffic.flood_run {
            match RunFrames::load(source, f).await {
                Ok(frames) => flood = Some(frames),
                Err(e) => {
                    notice = Some(format!(
                        "run '{name}' drove round the roads flood run '{f}' closed, whose water cannot be shown: {e:#}"
                    ))
                }
            }
        }
        Ok(SideRun {
            name: name.to_string(),
            flood,
            traffic: Some(Arc::new(traffic)),
            notice,
        })
    }

    /// The flood whose building classes colour the buildings on this side, if any.
    pub fn flood_name(&self) -> Option<&str> {
        self.flood.as_ref().map(|f| f.name.as_str())
    }

    /// The times the playback stops at when stepped: a traffic run's KPI times (its flood's
    /// frames within them), else the flood's frames.
    pub fn stops(&self) -> Vec<f64> {
        let flood: Vec<f64> = self
            .flood
            .as_ref()
            .map(|f| f.frames.iter().map(|x| x.0).collect())
            .unwrap_or_default();
        let Some(t) = &self.traffic else { return flood };
        let (a, b) = t.span();
        let mut all = t.stops();
        all.extend(flood.into_iter().filter(|x| *x >= a && *x <= b));
        all.sort_by(f64::total_cmp);
        all.dedup_by(|x, y| (*x - *y).abs() < 1e-6);
        all
    }

    /// When the roads shown closed at `t_s` closed in the flood run: earlier by the delay the
    /// traffic run closed them after the water.
    pub fn closures_time(&self, t_s: f64) -> f64 {
        t_s - self.traffic.as_ref().map_or(0.0, |t| t.closure_delay_s)
    }
}

/// Playing runs back over time.
#[derive(Clone, Debug, PartialEq)]
pub struct Playback {
    /// The run played (the left side's).
    pub name: String,
    /// The times stepping stops at, in order; the playback runs from the first to the last.
    pub stops: Vec<f64>,
    /// Model seconds now.
    pub time_s: f64,
    pub playing: bool,
    /// Model seconds a real second.
    pub speed: f64,
}

impl Playback {
    /// At the first stop, paused, a minute of model time a second.
    pub fn new(name: &str, stops: Vec<f64>) -> Playback {
        let time_s = stops.first().copied().unwrap_or(0.0);
        Playback {
            name: name.to_string(),
            stops,
            time_s,
            playing: false,
            speed: 60.0,
        }
    }

    /// The playback of `sides`: the first side's stops (and the second's within its span).
    pub fn of(sides: &[SideRun]) -> Playback {
        let mut stops = sides.first().map(SideRun::stops).unwrap_or_default();
        if let (Some(second), Some(&a), Some(&b)) = (sides.get(1), stops.first(), stops.last()) {
            stops.extend(second.stops().into_iter().filter(|x| *x >= a && *x <= b));
            stops.sort_by(f64::total_cmp);
            stops.dedup_by(|x, y| (*x - *y).abs() < 1e-6);
        }
        Playback::new(sides.first().map_or("", |s| s.name.as_str()), stops)
    }

    pub fn start_s(&self) -> f64 {
        self.stops.first().copied().unwrap_or(0.0)
    }

    pub fn end_s(&self) -> f64 {
        self.stops.last().copied().unwrap_or(0.0)
    }

    /// The stop at or before `t_s` (the first before any).
    pub fn index_at(&self, t_s: f64) -> usize {
        self.stops.iter().rposition(|&s| s <= t_s).unwrap_or(0)
    }

    /// Advances `dt_s` real seconds when playing; stops at the end.
    pub fn tick(&mut self, dt_s: f64) {
        if self.playing {
            self.time_s = (self.time_s + dt_s * self.speed).min(self.end_s());
            if self.time_s >= self.end_s() {
                self.playing = false;
            }
        }
    }

    /// Jumps `by` stops (negative: back), pausing. From between two stops, one back is the
    /// stop before.
    pub fn step(&mut self, by: i64) {
        let n = self.stops.len() as i64;
        if n == 0 {
            return;
        }
        let k = self.index_at(self.time_s) as i64;
        let between = self.stops[k as usize] < self.time_s;
        let k = if by < 0 && between { k + by + 1 } else { k + by };
        self.time_s = self.stops[k.clamp(0, n - 1) as usize];
        self.playing = false;
    }

    /// Plays or pauses; playing from the end starts over.
    pub fn toggle(&mut self) {
        if !self.playing && self.time_s >= self.end_s() {
            self.time_s = self.start_s();
        }
        self.playing = !self.playing;
    }

    /// Doubles (`faster`) or halves the speed, within 1 s to 1 h of model time a second.
    pub fn change_speed(&mut self, faster: bool) {
        self.speed = if faster {
            self.speed * 2.0
        } else {
            self.speed / 2.0
        }
        .clamp(1.0, 3600.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pb() -> Playback {
        Playback::new("r", vec![300.0, 600.0, 900.0])
    }

    #[test]
    fn playback_runs_steps_and_stops_at_the_end() {
        let mut p = pb();
        assert_eq!((p.time_s, p.playing), (300.0, false));
        p.tick(10.0);
        assert_eq!(p.time_s, 300.0);
        p.toggle();
        p.tick(5.0);
        assert_eq!(p.time_s, 600.0);
        assert_eq!(p.index_at(p.time_s), 1);
        p.tick(100.0);
        assert_eq!((p.time_s, p.playing), (900.0, false));
        p.toggle();
        assert_eq!((p.time_s, p.playing), (300.0, true));
        p.step(1);
        assert_eq!((p.time_s, p.playing), (600.0, false));
        p.step(-5);
        assert_eq!(p.time_s, 300.0);
        p.step(9);
        assert_eq!(p.time_s, 900.0);
        // From between two stops, back is the one before and on the one after.
        p.time_s = 700.0;
        p.step(-1);
        assert_eq!(p.time_s, 600.0);
        p.time_s = 700.0;
        p.step(1);
        assert_eq!(p.time_s, 900.0);
        for _ in 0..20 {
            p.change_speed(true);
        }
        assert_eq!(p.speed, 3600.0);
        p.change_speed(false);
        assert_eq!(p.speed, 1800.0);
    }

    #[test]
    fn two_sides_step_through_both_runs_stops() {
        let side = |name: &str, times: &[f64]| SideRun {
            name: name.into(),
            flood: Some(RunFrames::fake(name, times)),
            traffic: None,
            notice: None,
        };
        let p = Playback::of(&[side("a", &[300.0, 900.0]), side("b", &[600.0, 900.0, 1200.0])]);
        assert_eq!(p.name, "a");
        // The second run's stops within the first's span.
        assert_eq!(p.stops, vec![300.0, 600.0, 900.0]);
        assert_eq!(Playback::of(&[]).stops, Vec::<f64>::new());
    }
}
