//! The engine's own threads: where statements are planned and run, and
//! what stops them.

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::execution::TaskContext;
use datafusion::physical_plan::ExecutionPlan;
use futures::{FutureExt as _, Stream, StreamExt};
use tokio::sync::OwnedSemaphorePermit;

use super::config::PLANNING_STACK;
use super::result::{BatchStream, QueryStream};
use super::stop::Stop;
use crate::WarehouseError;
use crate::catalog::TableKey;
use crate::dialect::OutputNames;

/// How much of what a plan has ready at once it may hand over with its
/// head (batches past this wait for the caller to read them).
pub(crate) const PREFETCH_BYTES: usize = 8 << 20;

/// Wraps a result stream with the statement's stop: polling it once the
/// statement is cancelled or past its deadline fails with the reason.
pub(crate) struct Limited {
    inner: BatchStream,
    stopped: Pin<Box<dyn Future<Output = WarehouseError> + Send>>,
    done: bool,
}

impl Limited {
    pub(crate) fn new(inner: BatchStream, stop: Stop) -> Self {
        Self { inner, stopped: Box::pin(async move { stop.stopped().await }), done: false }
    }
}

impl Stream for Limited {
    type Item = Result<RecordBatch, WarehouseError>;
    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        if let Poll::Ready(reason) = self.stopped.as_mut().poll(cx) {
            self.done = true;
            return Poll::Ready(Some(Err(reason)));
        }
        match self.inner.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(b))) => Poll::Ready(Some(Ok(b))),
            other @ (Poll::Ready(Some(Err(_))) | Poll::Ready(None)) => {
                self.done = true;
                other
            }
            Poll::Pending => Poll::Pending,
        }
    }
}

/// The engine's own tokio runtime. Statements are planned and run on it,
/// so that DataFusion's CPU-bound work (and the tasks it spawns) never
/// occupies the threads of the caller's runtime, and threads with a large
/// stack ([`PLANNING_STACK`]) are ready for deeply nested statements
/// without starting one per statement.
pub(crate) struct Workers(Option<tokio::runtime::Runtime>);

impl Workers {
    pub(crate) fn new(threads: usize) -> Result<Self, WarehouseError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("warehouse")
            // A statement that arrives from the request threads waits in
            // the runtime's shared queue, which a busy worker looks at only
            // every so many of its own tasks: looking at it every time lets
            // a short statement in between two slices of a long one.
            .global_queue_interval(1)
            .thread_stack_size(PLANNING_STACK)
            .enable_time()
            .build()
            .map_err(|e| WarehouseError::Internal(format!("cannot start the warehouse's threads: {e}")))?;
        Ok(Self(Some(runtime)))
    }

    pub(crate) fn handle(&self) -> &tokio::runtime::Handle {
        self.0.as_ref().expect("the runtime lives as long as the engine").handle()
    }

    /// Plans a statement (`compile`) on the engine's runtime and, when it
    /// has a plan, goes on running it in the same task, so that a small
    /// statement crosses between the caller's threads and the engine's
    /// once each way. Dropping the returned future before the statement is
    /// planned aborts the planning.
    ///
    /// Once planned, the plan stops (and its memory is freed) when the
    /// receiver of its batches is dropped or at `stop`, even while the
    /// consumer is not polling.
    pub(crate) async fn start(
        &self,
        compile: impl Future<Output = Result<Compiled, WarehouseError>> + Send + 'static,
        stop: Stop,
        slot: OwnedSemaphorePermit,
    ) -> Result<Started, WarehouseError> {
        let (head_tx, head_rx) = tokio::sync::oneshot::channel();
        let mut task = AbortOnDrop(Some(self.handle().spawn(async move {
            // The account's turn lasts as long as this task.
            let _slot = slot;
            let (planned, plan, task) = match compile.await {
                Err(e) => return drop(head_tx.send(Err(e))),
                Ok(Compiled::Ready(stream)) => return drop(head_tx.send(Ok(Started::Ready(stream)))),
                Ok(Compiled::Query { plan, task, names }) => (Planned::Query(names), plan, task),
                Ok(Compiled::CreateTemp { key, plan, task }) => (Planned::CreateTemp(key), plan, task),
                Ok(Compiled::Insert { key, before, plan, task }) => (Planned::Insert { key, before }, plan, task),
                Ok(Compiled::Write { plan, task }) => (Planned::Write, plan, task),
            };
            let schema = plan.schema();
            let mut stream = match datafusion::physical_plan::execute_stream(plan, task) {
                Ok(stream) => stream,
                Err(e) => {
                    let ready = VecDeque::from([Err(WarehouseError::from_datafusion(e))]);
                    return drop(head_tx.send(Ok(Started::Running { planned, schema, ready, batches: None })));
                }
            };
            // What the plan has ready at once (all of a small result) goes
            // with the head, saving the caller a wake-up per batch; a few
            // MB at most, and nothing more once the caller has gone or the
            // statement is cancelled.
            let mut ready = VecDeque::new();
            let (mut rest, mut bytes) = (true, 0);
            while rest && bytes < PREFETCH_BYTES && !head_tx.is_closed() && stop.reason().is_none() {
                match stream.next().now_or_never() {
                    Some(Some(Ok(batch))) => {
                        bytes += batch.get_array_memory_size();
                        ready.push_back(Ok(batch));
                    }
                    Some(Some(Err(e))) => {
                        ready.push_back(Err(WarehouseError::from_datafusion(e)));
                        rest = false;
                    }
                    Some(None) => rest = false,
                    None => break,
                }
            }
            if !rest {
                return drop(head_tx.send(Ok(Started::Running { planned, schema, ready, batches: None })));
            }
            let (tx, rx) = tokio::sync::mpsc::channel(2);
            if head_tx.send(Ok(Started::Running { planned, schema, ready, batches: Some(rx) })).is_ok() {
                pump(stream, tx, &stop).await;
            }
        })));
        match head_rx.await {
            Ok(head) => {
                // Running from here on, stopped by its own rules.
                task.detach();
                head
            }
            Err(_) => match (&mut task).await {
                Err(e) if e.is_panic() => Err(WarehouseError::Internal("planning the statement panicked".into())),
                _ => Err(WarehouseError::Cancelled),
            },
        }
    }
}

/// What the planning thread hands back.
pub(crate) enum Compiled {
    Ready(QueryStream),
    Query {
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
        names: OutputNames,
    },
    CreateTemp {
        key: TableKey,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    },
    Insert {
        key: TableKey,
        before: Vec<usize>,
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    },
    /// An insert into a table of the account's own databases (committed
    /// when its plan ends).
    Write {
        plan: Arc<dyn ExecutionPlan>,
        task: Arc<TaskContext>,
    },
}

/// What the engine task hands back once a statement is planned.
pub(crate) enum Started {
    /// Answered without a plan to run.
    Ready(QueryStream),
    /// Planned and running: the batches it had ready at once, then (unless
    /// those are all) the rest on `batches`, where `Ok(None)` marks the end.
    Running {
        planned: Planned,
        schema: SchemaRef,
        ready: VecDeque<Result<RecordBatch, WarehouseError>>,
        batches: Option<BatchReceiver>,
    },
}

/// The batches of a running plan, `Ok(None)` marking the end.
pub(crate) type BatchReceiver = tokio::sync::mpsc::Receiver<Result<Option<RecordBatch>, WarehouseError>>;

/// What a running plan's result is for.
pub(crate) enum Planned {
    /// A query whose result columns are renamed so.
    Query(OutputNames),
    CreateTemp(TableKey),
    /// An insert into a temporary table whose partitions held `before`
    /// batches each.
    Insert {
        key: TableKey,
        before: Vec<usize>,
    },
    /// An insert into an own table; its plan's one row counts the rows.
    Write,
}

/// Sends the batches of a running plan to `tx` until it ends, fails, or is
/// stopped: at `stop`, or by the receiver going away. Whichever ends first
/// drops the other, so a stop drops the plan (whose operators check the
/// stop themselves too, see `guard`).
async fn pump(
    mut stream: datafusion::execution::SendableRecordBatchStream,
    tx: tokio::sync::mpsc::Sender<Result<Option<RecordBatch>, WarehouseError>>,
    stop: &Stop,
) {
    let stop = async {
        tokio::select! {
            _ = stop.stopped() => {}
            _ = tx.closed() => {}
        }
    };
    let run = async {
        while let Some(item) = stream.next().await {
            let failed = item.is_err();
            if tx.send(item.map(Some).map_err(WarehouseError::from_datafusion)).await.is_err() || failed {
                return;
            }
        }
        let _ = tx.send(Ok(None)).await;
    };
    tokio::select! {
        _ = stop => {}
        _ = run => {}
    }
}

/// The caller's side of a running plan: its batches as a stream. A plan
/// that stops early ends the stream with the reason as its error, never
/// as a short result.
pub(crate) fn receive(
    ready: VecDeque<Result<RecordBatch, WarehouseError>>,
    batches: Option<BatchReceiver>,
    stop: Stop,
) -> BatchStream {
    let stopped = move || {
        stop.reason().unwrap_or_else(|| {
            WarehouseError::Internal(
                "the statement stopped unexpectedly: running it panicked, or the engine shut down".into(),
            )
        })
    };
    let rest = batches.map(|rx| {
        futures::stream::unfold(Some(rx), move |rx| {
            let stopped = stopped.clone();
            async move {
                let mut rx = rx?;
                match rx.recv().await {
                    Some(Ok(Some(batch))) => Some((Ok(batch), Some(rx))),
                    Some(Ok(None)) => None,
                    Some(Err(e)) => Some((Err(e), None)),
                    None => Some((Err(stopped()), None)),
                }
            }
        })
    });
    Box::pin(futures::stream::iter(ready).chain(futures::stream::iter(rest).flatten()))
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Dropping a runtime waits for its threads, which is not allowed
        // inside another runtime; running statements have been dropped
        // with their streams or stop at their next batch.
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// A spawned task that is aborted when its handle is dropped, unless it
/// was detached.
struct AbortOnDrop<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> AbortOnDrop<T> {
    /// Lets the task run on by itself.
    fn detach(&mut self) {
        self.0 = None;
    }
}

impl<T> std::future::Future for AbortOnDrop<T> {
    type Output = Result<T, tokio::task::JoinError>;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.0.as_mut() {
            Some(handle) => Pin::new(handle).poll(cx),
            None => Poll::Pending,
        }
    }
}

impl<T> Drop for AbortOnDrop<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
    }
}
