//! Every operator of a running plan checks its statement's [`Stop`] and
//! yields to the scheduler (SECURITY.md F03).
//!
//! DataFusion's operators run inside the futures that poll them: an
//! operator that always has its next batch ready (a cross join producing
//! rows from one batch of its input, an aggregate reading it) never
//! returns to the scheduler, so neither dropping the statement's stream nor
//! aborting its task takes effect until the whole join is done, and the
//! thread is not shared with any other statement meanwhile. [`guard`]
//! wraps every node of a physical plan in a [`GuardExec`] whose stream,
//! before each batch, fails with the stop's reason once the statement is
//! cancelled or past its deadline, and spends a unit of tokio's
//! cooperative budget, so a task that has run for a while yields and other
//! statements (of this account or another) get the thread. The batch it
//! passes on counts against the session's memory until the next one.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::{RecordBatchStream, SendableRecordBatchStream, TaskContext};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::{DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties};
use futures::Stream;

use super::stop::Stop;

/// `plan` with every node wrapped in a [`GuardExec`] checking `stop`.
pub(crate) fn guard(plan: Arc<dyn ExecutionPlan>, stop: &Stop) -> Result<Arc<dyn ExecutionPlan>> {
    let stop = Arc::new(stop.clone());
    plan.transform_up(|node| Ok(Transformed::yes(Arc::new(GuardExec::new(node, stop.clone())) as _))).map(|t| t.data)
}

/// A plan node that runs its input unchanged under a [`Stop`].
#[derive(Debug)]
pub(crate) struct GuardExec {
    input: Arc<dyn ExecutionPlan>,
    stop: Arc<Stop>,
}

impl GuardExec {
    fn new(input: Arc<dyn ExecutionPlan>, stop: Arc<Stop>) -> Self {
        Self { input, stop }
    }
}

impl DisplayAs for GuardExec {
    fn fmt_as(&self, _t: DisplayFormatType, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GuardExec")
    }
}

impl ExecutionPlan for GuardExec {
    fn name(&self) -> &str {
        "GuardExec"
    }

    // Downcasts see the wrapped operator, as if the guard were not there.
    fn downcast_delegate(&self) -> Option<&dyn ExecutionPlan> {
        Some(self.input.as_ref())
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
    }

    fn maintains_input_order(&self) -> Vec<bool> {
        vec![true]
    }

    fn benefits_from_input_partitioning(&self) -> Vec<bool> {
        vec![false]
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(self: Arc<Self>, mut children: Vec<Arc<dyn ExecutionPlan>>) -> Result<Arc<dyn ExecutionPlan>> {
        match (children.pop(), children.is_empty()) {
            (Some(input), true) => Ok(Arc::new(Self::new(input, self.stop.clone()))),
            _ => Err(DataFusionError::Internal("GuardExec has exactly one child".into())),
        }
    }

    fn execute(&self, partition: usize, context: Arc<TaskContext>) -> Result<SendableRecordBatchStream> {
        if let Some(reason) = self.stop.reason() {
            return Err(DataFusionError::External(Box::new(reason)));
        }
        let memory = MemoryConsumer::new(format!("{} output", self.input.name())).register(context.memory_pool());
        let inner = self.input.execute(partition, context)?;
        Ok(Box::pin(GuardStream { inner, stop: self.stop.clone(), memory }))
    }
}

/// The stream of a [`GuardExec`]: its last batch counts against the
/// session's memory limits until the next one (SECURITY.md F05), so
/// batches in flight between operators are bounded too, not only what
/// operators keep.
struct GuardStream {
    inner: SendableRecordBatchStream,
    stop: Arc<Stop>,
    memory: MemoryReservation,
}

impl Stream for GuardStream {
    type Item = Result<RecordBatch>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(reason) = self.stop.reason() {
            return Poll::Ready(Some(Err(DataFusionError::External(Box::new(reason)))));
        }
        // Out of budget: the task yields here (tokio wakes it again at
        // once), which is where an aborted task ends.
        let progress = ready!(tokio::task::coop::poll_proceed(cx));
        let next = self.inner.as_mut().poll_next(cx);
        if next.is_ready() {
            progress.made_progress();
        }
        match next {
            Poll::Ready(Some(Ok(batch))) => {
                let bytes = batch.get_array_memory_size();
                Poll::Ready(Some(self.memory.try_resize(bytes).map(|()| batch)))
            }
            Poll::Ready(None) => {
                self.memory.free();
                Poll::Ready(None)
            }
            other => other,
        }
    }
}

impl RecordBatchStream for GuardStream {
    fn schema(&self) -> SchemaRef {
        self.inner.schema()
    }
}
