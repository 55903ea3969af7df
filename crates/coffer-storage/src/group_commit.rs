//! Group commit: concurrent writes to one redb database share a transaction and its fsync.
//!
//! redb runs one write transaction at a time, and a durable commit waits for the disk
//! (about 0.5 ms per fsync on the development VM). Committing every write on its own would
//! cap the server at a couple of thousand writes per second however many clients wait.
//! Instead one thread owns every write transaction: it takes all the writes queued since its
//! last commit, applies them in arrival order in one transaction and commits once. Applying
//! them in order inside one transaction is equivalent to committing them one by one in that
//! order, and no caller hears of success before the commit that holds its write returns.
//!
//! A write that fails (a write condition, a missing bucket) must leave no trace, but redb
//! cannot undo part of a transaction. So the batch is aborted, the failed write answered
//! with its error, and the others applied again in a fresh transaction. Writes are therefore
//! closures that may run more than once (`FnMut`) and touch nothing but the transaction.
//!
//! Small-blob changes do not queue as writes of their own: they wait in [`PendingBlobs`]
//! and ride along with the next transaction the writer commits, which is at the latest the
//! one holding the record that references the blob (see [`crate::RedbBlobStore`]).

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use redb::{Database, WriteTransaction};
use tokio::sync::oneshot;

use crate::error::{StorageError, StorageResult};
use crate::redb_blob::PendingBlobs;

/// At most this many writes share a transaction, which bounds the re-applying a failed
/// write causes (quadratic in the batch size in the worst case).
const MAX_BATCH: usize = 64;

/// The one thread that writes to a database.
pub(crate) struct GroupCommitter {
    /// `None` only while dropping, so the thread sees its queue close.
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommitter {
    /// Starts the writer thread; `pending` joins each of its transactions.
    pub(crate) fn start(db: Arc<Database>, pending: Arc<PendingBlobs>) -> io::Result<Self> {
        let (queue, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("coffer-meta-writer".into())
            .spawn(move || run(&db, &pending, jobs))?;
        Ok(GroupCommitter {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `apply` in the next group transaction and returns its result once that
    /// transaction is durable. If `apply` fails, nothing it did persists.
    pub(crate) async fn write<T, F>(&self, apply: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> StorageResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Write {
            apply,
            value: None,
            reply,
        });
        self.queue
            .as_ref()
            .and_then(|queue| queue.send(job).ok())
            .ok_or_else(writer_gone)?;
        answer.await.map_err(|_| writer_gone())?
    }
}

impl Drop for GroupCommitter {
    fn drop(&mut self) {
        // Closing the queue ends the thread once it has committed what is queued; joining
        // it releases the database, so the file can be opened again at once.
        self.queue.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn writer_gone() -> StorageError {
    StorageError::backend("the metadata writer has stopped", false)
}

/// One queued write, with its result type erased so different writes share a queue.
trait Job: Send {
    fn apply(&mut self, txn: &WriteTransaction) -> StorageResult<()>;
    /// Answers the caller: with the value `apply` produced, or with `Err`.
    fn finish(self: Box<Self>, outcome: StorageResult<()>);
}

struct Write<T, F> {
    apply: F,
    /// What the last `apply` returned, handed over only if its transaction commits.
    value: Option<T>,
    reply: oneshot::Sender<StorageResult<T>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: FnMut(&WriteTransaction) -> StorageResult<T> + Send,
{
    fn apply(&mut self, txn: &WriteTransaction) -> StorageResult<()> {
        self.value = Some((self.apply)(txn)?);
        Ok(())
    }

    fn finish(self: Box<Self>, outcome: StorageResult<()>) {
        let Write { value, reply, .. } = *self;
        let result = outcome.and_then(|()| value.ok_or_else(writer_gone));
        // The caller may have gone away (request cancelled); its write stands regardless.
        let _ = reply.send(result);
    }
}

fn run(db: &Database, pending: &PendingBlobs, jobs: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(db, pending, batch);
    }
}

/// Commits `batch` in one transaction, with the pending small-blob changes and minus the
/// writes that fail.
fn commit_batch(db: &Database, pending: &PendingBlobs, mut batch: Vec<Box<dyn Job>>) {
    use crate::redb_meta::redb_err;
    while !batch.is_empty() {
        let txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => return fail_all(batch, &redb_err(e)),
        };
        // First, so a record in this batch never commits without its blob. If they cannot
        // be written, they stay pending and the batch fails: its records may need them.
        let blobs = match pending.write_into(&txn) {
            Ok(blobs) => blobs,
            Err(e) => {
                let _ = txn.abort();
                return fail_all(batch, &e);
            }
        };
        let failed = batch.iter_mut().enumerate().find_map(|(i, job)| {
            // A panicking write is a bug; it fails that write, not the writer thread.
            catch_unwind(AssertUnwindSafe(|| job.apply(&txn)))
                .unwrap_or_else(|_| Err(StorageError::backend("metadata write panicked", false)))
                .err()
                .map(|e| (i, e))
        });
        if let Some((i, error)) = failed {
            // Undo everything this attempt did and go again without the failed write.
            let _ = txn.abort();
            batch.remove(i).finish(Err(error));
            continue;
        }
        // If the commit fails, the writes may be on disk or not; they are reported
        // failed, the honest answer after a failed fsync, and redb then refuses further
        // writes until reopened.
        match txn.commit() {
            Ok(()) => {
                pending.written(blobs);
                batch.into_iter().for_each(|job| job.finish(Ok(())));
            }
            Err(e) => fail_all(batch, &redb_err(e)),
        }
        return;
    }
}

/// Answers every write with (a copy of) `error`.
fn fail_all(batch: Vec<Box<dyn Job>>, error: &StorageError) {
    for job in batch {
        let copy = match error {
            StorageError::Io(e) => StorageError::Io(io::Error::new(e.kind(), e.to_string())),
            other => StorageError::backend(other.to_string(), other.is_retryable()),
        };
        job.finish(Err(copy));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use redb::{ReadableDatabase, TableDefinition};

    const T: TableDefinition<u32, u32> = TableDefinition::new("t");

    fn open() -> (tempfile::TempDir, Arc<Database>, GroupCommitter) {
        let dir = tempfile::tempdir().unwrap();
        let db = Arc::new(Database::create(dir.path().join("db.redb")).unwrap());
        let writer = GroupCommitter::start(db.clone(), Arc::default()).unwrap();
        (dir, db, writer)
    }

    fn insert(k: u32, v: u32) -> impl FnMut(&WriteTransaction) -> StorageResult<()> {
        move |txn| {
            txn.open_table(T).unwrap().insert(k, v).unwrap();
            Ok(())
        }
    }

    fn read(db: &Database, k: u32) -> Option<u32> {
        let txn = db.begin_read().unwrap();
        let table = txn.open_table(T).ok()?;
        table.get(k).unwrap().map(|v| v.value())
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn concurrent_writes_all_commit() {
        let (_dir, db, writer) = open();
        let writer = Arc::new(writer);
        let tasks: Vec<_> = (0..200u32)
            .map(|k| {
                let writer = writer.clone();
                tokio::spawn(async move { writer.write(insert(k, k * 2)).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        for k in 0..200 {
            assert_eq!(read(&db, k), Some(k * 2));
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
    async fn a_failed_write_leaves_no_trace_and_spares_its_batch() {
        let (_dir, db, writer) = open();
        let writer = Arc::new(writer);
        // Writes with an odd key insert, then fail; even ones succeed.
        let tasks: Vec<_> = (0..100u32)
            .map(|k| {
                let writer = writer.clone();
                tokio::spawn(async move {
                    writer
                        .write(move |txn| {
                            txn.open_table(T).unwrap().insert(k, 1).unwrap();
                            if k % 2 == 1 {
                                return Err(StorageError::NoSuchBucket);
                            }
                            Ok(k)
                        })
                        .await
                })
            })
            .collect();
        for (k, task) in tasks.into_iter().enumerate() {
            let result = task.await.unwrap();
            if k % 2 == 1 {
                assert!(matches!(result, Err(StorageError::NoSuchBucket)));
            } else {
                assert_eq!(result.unwrap(), k as u32);
            }
        }
        for k in 0..100 {
            let expected = (k % 2 == 0).then_some(1);
            assert_eq!(read(&db, k), expected, "key {k}");
        }
    }

    #[tokio::test]
    async fn a_panicking_write_fails_alone() {
        let (_dir, db, writer) = open();
        let panicked = writer
            .write(|_txn| -> StorageResult<()> { panic!("bug") })
            .await;
        assert!(matches!(panicked, Err(StorageError::Backend { .. })));
        writer.write(insert(7, 8)).await.unwrap();
        assert_eq!(read(&db, 7), Some(8));
    }
}
