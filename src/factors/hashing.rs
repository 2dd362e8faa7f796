//! Argon2 work, bounded (issue 15: 150 concurrent PINs raised RSS to 1.8 GB). Each PIN hash or
//! verification takes 19 MiB for its duration (OWASP parameters, `codes::argon2`), so at most
//! `argon2_max_concurrent` run at once; the rest wait for a permit before any memory is taken.
//! The wait is exported as `trustline_argon2_queue_wait_seconds` (STYLE: CPU-heavy work behind a
//! bounded pool, queue wait as a metric).

use std::time::Instant;

use tokio::sync::Semaphore;

#[derive(Debug, thiserror::Error)]
pub enum HashPoolError {
    #[error("the password-hashing pool is closed")]
    Closed,
    #[error("password hashing task failed")]
    Task,
}

/// A semaphore in front of `spawn_blocking` for Argon2.
#[derive(Debug)]
pub struct HashPool {
    permits: Semaphore,
}

impl HashPool {
    pub fn new(max_concurrent: usize) -> Self {
        Self {
            permits: Semaphore::new(max_concurrent.max(1)),
        }
    }

    /// Run `work` (blocking Argon2) once a permit is free; the permit is held until it returns.
    pub async fn run<T, F>(&self, work: F) -> Result<T, HashPoolError>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let queued = Instant::now();
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| HashPoolError::Closed)?;
        metrics::histogram!("trustline_argon2_queue_wait_seconds")
            .record(queued.elapsed().as_secs_f64());
        tokio::task::spawn_blocking(work)
            .await
            .map_err(|_| HashPoolError::Task)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    };

    use super::*;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn never_more_than_the_limit_run_at_once() {
        let pool = Arc::new(HashPool::new(2));
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        let tasks: Vec<_> = (0..24)
            .map(|_| {
                let (pool, running, peak) = (pool.clone(), running.clone(), peak.clone());
                tokio::spawn(async move {
                    pool.run(move || {
                        let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                        peak.fetch_max(now, Ordering::SeqCst);
                        std::thread::sleep(std::time::Duration::from_millis(5));
                        running.fetch_sub(1, Ordering::SeqCst);
                    })
                    .await
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap().unwrap();
        }
        assert_eq!(peak.load(Ordering::SeqCst), 2);
    }
}
