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

use std::io;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::mpsc;
use std::thread::JoinHandle;

use redb::{Database, Durability, WriteTransaction};
use tokio::sync::oneshot;

use crate::error::{StorageError, StorageResult};

/// At most this many writes share a transaction, which bounds the re-applying a failed
/// write causes (quadratic in the batch size in the worst case).
const MAX_BATCH: usize = 64;

/// Whether a write must be on disk before its caller is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Durable {
    /// The usual case: an acknowledged write survives a crash.
    Yes,
    /// Answered once committed and visible, before the fsync; on disk with the next
    /// durable commit. For writes a crash may lose harmlessly: a small blob, which only
    /// matters once the durable record commit that references it (always a later one)
    /// has persisted it too, and deleting a blob nothing references.
    No,
}

/// The one thread that writes to a database.
pub(crate) struct GroupCommitter {
    /// `None` only while dropping, so the thread sees its queue close.
    queue: Option<mpsc::Sender<Box<dyn Job>>>,
    thread: Option<JoinHandle<()>>,
}

impl GroupCommitter {
    pub(crate) fn start(db: Arc<Database>) -> io::Result<Self> {
        let (queue, jobs) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("coffer-meta-writer".into())
            .spawn(move || run(&db, jobs))?;
        Ok(GroupCommitter {
            queue: Some(queue),
            thread: Some(thread),
        })
    }

    /// Runs `apply` in the next group transaction and returns its result once that
    /// transaction has committed. If `apply` fails, nothing it did persists.
    pub(crate) async fn write<T, F>(&self, durable: Durable, apply: F) -> StorageResult<T>
    where
        T: Send + 'static,
        F: FnMut(&WriteTransaction) -> StorageResult<T> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Write {
            apply,
            value: None,
            durable,
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
    StorageError::Backend("the metadata writer has stopped".into())
}

/// One queued write, with its result type erased so different writes share a queue.
trait Job: Send {
    fn apply(&mut self, txn: &WriteTransaction) -> StorageResult<()>;
    fn durable(&self) -> Durable;
    /// Answers the caller: with the value `apply` produced, or with `Err`.
    fn finish(self: Box<Self>, outcome: StorageResult<()>);
}

struct Write<T, F> {
    apply: F,
    /// What the last `apply` returned, handed over only if its transaction commits.
    value: Option<T>,
    durable: Durable,
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

    fn durable(&self) -> Durable {
        self.durable
    }

    fn finish(self: Box<Self>, outcome: StorageResult<()>) {
        let Write { value, reply, .. } = *self;
        let result = outcome.and_then(|()| value.ok_or_else(writer_gone));
        // The caller may have gone away (request cancelled); its write stands regardless.
        let _ = reply.send(result);
    }
}

fn run(db: &Database, jobs: mpsc::Receiver<Box<dyn Job>>) {
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        commit_batch(db, batch);
    }
}

/// Commits `batch` in one transaction, minus the writes that fail.
fn commit_batch(db: &Database, mut batch: Vec<Box<dyn Job>>) {
    while !batch.is_empty() {
        let mut txn = match db.begin_write() {
            Ok(txn) => txn,
            Err(e) => return fail_all(batch, &crate::redb_meta::redb_err(e)),
        };
        // Commit without an fsync first, so writes that need no fsync are answered at
        // once; a second, empty commit then makes the batch durable for the rest. If
        // redb refuses the lighter commit, it is simply durable: stronger than asked.
        let _ = txn.set_durability(Durability::None);
        let failed = batch.iter_mut().enumerate().find_map(|(i, job)| {
            // A panicking write is a bug; it fails that write, not the writer thread.
            catch_unwind(AssertUnwindSafe(|| job.apply(&txn)))
                .unwrap_or_else(|_| Err(StorageError::Backend("metadata write panicked".into())))
                .err()
                .map(|e| (i, e))
        });
        match failed {
            Some((i, error)) => {
                // Undo everything this attempt did and go again without the failed write.
                let _ = txn.abort();
                batch.remove(i).finish(Err(error));
            }
            None => {
                if let Err(e) = txn.commit() {
                    return fail_all(batch, &crate::redb_meta::redb_err(e));
                }
                let (durable, light): (Vec<_>, Vec<_>) = batch
                    .into_iter()
                    .partition(|job| job.durable() == Durable::Yes);
                light.into_iter().for_each(|job| job.finish(Ok(())));
                if !durable.is_empty() {
                    // If this fsync fails, the writes are visible but not known to be on
                    // disk; they are reported failed, the honest answer after a failed
                    // fsync, which leaves redb refusing further writes until reopened.
                    match persist(db) {
                        Ok(()) => durable.into_iter().for_each(|job| job.finish(Ok(()))),
                        Err(e) => fail_all(durable, &e),
                    }
                }
                return;
            }
        }
    }
}

/// Makes every earlier commit durable: an empty commit with redb's default (immediate)
/// durability, which persists the non-durable commits before it.
fn persist(db: &Database) -> StorageResult<()> {
    use crate::redb_meta::redb_err;
    db.begin_write()
        .map_err(redb_err)?
        .commit()
        .map_err(redb_err)
}

/// Answers every write with (a copy of) `error`.
fn fail_all(batch: Vec<Box<dyn Job>>, error: &StorageError) {
    for job in batch {
        let copy = match error {
            StorageError::Io(e) => StorageError::Io(io::Error::new(e.kind(), e.to_string())),
            other => StorageError::Backend(other.to_string()),
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
        let writer = GroupCommitter::start(db.clone()).unwrap();
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
    async fn concurrent_writes_all_commit_whatever_their_durability() {
        let (_dir, db, writer) = open();
        let writer = Arc::new(writer);
        let tasks: Vec<_> = (0..200u32)
            .map(|k| {
                let writer = writer.clone();
                // Mixed, so batches hold both kinds.
                let durable = if k % 3 == 0 {
                    Durable::No
                } else {
                    Durable::Yes
                };
                tokio::spawn(async move { writer.write(durable, insert(k, k * 2)).await })
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
                        .write(Durable::Yes, move |txn| {
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
            .write(Durable::Yes, |_txn| -> StorageResult<()> { panic!("bug") })
            .await;
        assert!(matches!(panicked, Err(StorageError::Backend(_))));
        writer.write(Durable::Yes, insert(7, 8)).await.unwrap();
        assert_eq!(read(&db, 7), Some(8));
    }

    #[tokio::test]
    async fn non_durable_writes_become_durable_with_the_next_commit() {
        let (dir, db, writer) = open();
        writer.write(Durable::No, insert(1, 1)).await.unwrap();
        writer.write(Durable::Yes, insert(2, 2)).await.unwrap();
        drop(writer);
        drop(db);
        let db = Database::create(dir.path().join("db.redb")).unwrap();
        assert_eq!(read(&db, 1), Some(1));
        assert_eq!(read(&db, 2), Some(2));
    }
}
