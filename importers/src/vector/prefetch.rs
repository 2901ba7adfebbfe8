//! Reading ahead on a second thread, so that decoding a file overlaps with what the consumer
//! (the import pipeline: transform, validate, store) does with the records.
//!
//! Records travel in batches through a bounded channel, in source order. Where threads are not
//! available (wasm), the records are read inline instead.

use crate::error::{ImportError, Result};
use crate::source::SourceFeature;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{sync_channel, Receiver};
use std::thread::JoinHandle;

type Batch = Vec<Result<SourceFeature>>;

/// Records per batch sent between the threads.
const BATCH: usize = 1024;
/// Batches read ahead of the consumer.
const DEPTH: usize = 4;

/// Runs `iter` on a reader thread; the returned iterator yields the same items in order.
pub(super) fn prefetch<I>(path: &Path, iter: I) -> Box<dyn Iterator<Item = Result<SourceFeature>>>
where
    I: Iterator<Item = Result<SourceFeature>> + Send + 'static,
{
    let (tx, rx) = sync_channel::<Batch>(DEPTH);
    // `iter` moves into the closure; if the thread cannot start we get it back through `slot`.
    let slot = std::sync::Arc::new(std::sync::Mutex::new(Some(iter)));
    let in_thread = std::sync::Arc::clone(&slot);
    let spawned = std::thread::Builder::new()
        .name("cim-vector-reader".into())
        .spawn(move || {
            let Some(iter) = in_thread.lock().ok().and_then(|mut s| s.take()) else {
                return;
            };
            let mut batch = Vec::with_capacity(BATCH);
            for item in iter {
                batch.push(item);
                if batch.len() == BATCH {
                    let full = std::mem::replace(&mut batch, Vec::with_capacity(BATCH));
                    if tx.send(full).is_err() {
                        return; // the consumer stopped early
                    }
                }
            }
            if !batch.is_empty() {
                let _ = tx.send(batch);
            }
        });
    match spawned {
        Ok(handle) => Box::new(Prefetched {
            path: path.to_path_buf(),
            rx: Some(rx),
            batch: Vec::new().into_iter(),
            handle: Some(handle),
        }),
        Err(_) => match slot.lock().ok().and_then(|mut s| s.take()) {
            Some(iter) => Box::new(iter),
            None => Box::new(std::iter::empty()),
        },
    }
}

struct Prefetched {
    path: PathBuf,
    rx: Option<Receiver<Batch>>,
    batch: std::vec::IntoIter<Result<SourceFeature>>,
    handle: Option<JoinHandle<()>>,
}

impl Iterator for Prefetched {
    type Item = Result<SourceFeature>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            if let Some(item) = self.batch.next() {
                return Some(item);
            }
            match self.rx.as_ref()?.recv() {
                Ok(batch) => self.batch = batch.into_iter(),
                Err(_) => {
                    // The reader is done; a panic there must not look like a clean end.
                    self.rx = None;
                    let panicked = self.handle.take().is_some_and(|h| h.join().is_err());
                    return panicked.then(|| {
                        Err(ImportError::file(
                            &self.path,
                            "the reader thread failed (internal error)",
                        ))
                    });
                }
            }
        }
    }
}

impl Drop for Prefetched {
    fn drop(&mut self) {
        // Closing the channel first makes the reader's next send fail, so the join is short.
        self.rx = None;
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn feature(n: u64) -> Result<SourceFeature> {
        if n % 1000 == 7 {
            return Err(ImportError::record("x", n, "bad"));
        }
        Ok(SourceFeature {
            record: n,
            key: format!("rec:{n}"),
            geometry: None,
            attributes: Default::default(),
            kind: None,
            height_hint: None,
            warnings: Vec::new(),
        })
    }

    #[test]
    fn keeps_order_and_errors() {
        let n = 5 * BATCH as u64 + 17;
        let out: Vec<_> = prefetch(Path::new("x"), (1..=n).map(feature)).collect();
        assert_eq!(out.len() as u64, n);
        for (i, r) in out.iter().enumerate() {
            let want = i as u64 + 1;
            match r {
                Ok(f) => assert_eq!(f.record, want),
                Err(ImportError::Record { record, .. }) => assert_eq!(*record, want),
                Err(e) => panic!("{e}"),
            }
        }
    }

    #[test]
    fn dropping_early_stops_the_reader() {
        let mut it = prefetch(Path::new("x"), (1..).map(feature));
        assert_eq!(it.next().unwrap().unwrap().record, 1);
        drop(it); // would hang if the reader thread kept going
    }

    #[test]
    fn a_panicking_reader_is_an_error_not_a_clean_end() {
        let iter = (1..=3u64).map(|n| if n == 2 { panic!("boom") } else { feature(n) });
        let out: Vec<_> = prefetch(Path::new("x"), iter).collect();
        assert!(out
            .last()
            .unwrap()
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("reader thread failed"));
    }
}
