//! Tasks through MCP-server targets, in both eras: a task handle a target answers a
//! `tools/call` with gets a task id of the gateway's own (sealed for the principal, naming
//! the target: the 2026-07-28 extension's `resultType: "task"`, or a 2025-11-25
//! `CreateTaskResult`); `tasks/get`, `tasks/update`, `tasks/cancel` and the handshake era's
//! `tasks/result` are routed by it to that target under the upstream's own id.

use serde_json::value::RawValue;
use serde_json::{Map, Value, json};

use super::forward::{Fields, invalid, raw_string, required_str, strip_protocol_meta};
use super::jsonrpc::{self, RpcError};
use super::state::{TASK_TTL, TaskRef};
use super::{Ask, McpService, results};

/// The `_meta` key that names the task a message belongs to (2025-11-25).
const RELATED_TASK: &str = "io.modelcontextprotocol/related-task";

impl McpService {
    /// A task's handle from `target`, for the client: its `taskId` replaced by one of the
    /// gateway's, sealed for this principal and naming the target. A 2026-07-28 task has its
    /// fields at the top of the result; a 2025-11-25 `CreateTaskResult` has them under `task`.
    pub(super) fn task_result(
        &self,
        ask: &Ask<'_>,
        target: &str,
        result: &RawValue,
    ) -> Result<Vec<u8>, RpcError> {
        let unreadable = || {
            RpcError::new(
                jsonrpc::INTERNAL_ERROR,
                "the target sent a task that cannot be read",
            )
        };
        let mut fields: Fields = serde_json::from_str(result.get()).map_err(|_| unreadable())?;
        match fields.get("task").filter(|t| t.get().starts_with('{')) {
            Some(task) => {
                let mut task: Fields =
                    serde_json::from_str(task.get()).map_err(|_| unreadable())?;
                self.seal_task_id(ask, target, &mut task)?;
                let task = serde_json::value::to_raw_value(&task).map_err(|_| unreadable())?;
                fields.insert("task".into(), task);
            }
            None => self.seal_task_id(ask, target, &mut fields)?,
        }
        strip_protocol_meta(&mut fields);
        Ok(jsonrpc::success(ask.id, &fields))
    }

    /// Replaces the upstream's `taskId` in `task` with the gateway's sealed one.
    fn seal_task_id(&self, ask: &Ask<'_>, target: &str, task: &mut Fields) -> Result<(), RpcError> {
        let upstream_id = task
            .get("taskId")
            .and_then(|t| serde_json::from_str::<String>(t.get()).ok())
            .ok_or_else(|| {
                RpcError::new(
                    jsonrpc::INTERNAL_ERROR,
                    "the target sent a task without a taskId",
                )
            })?;
        let sealed = TaskRef {
            target: target.to_string(),
            task: upstream_id,
            expires: crate::common::unix_now() + TASK_TTL.as_secs(),
        };
        let id = self
            .sealer
            .seal(&sealed, &ask.principal.id)
            .ok_or_else(|| {
                RpcError::new(jsonrpc::INTERNAL_ERROR, "the task id could not be sealed")
            })?;
        task.insert("taskId".into(), raw_string(&id));
        Ok(())
    }

    /// `tasks/get`, `tasks/update` and `tasks/cancel` (and the handshake era's
    /// `tasks/result`): routed by the task id to the target that made the task, with the
    /// upstream's own id; the answer carries the client's id.
    pub(super) async fn task_request(
        &self,
        ask: &Ask<'_>,
        method: &str,
        params: &Map<String, Value>,
    ) -> Result<Vec<u8>, RpcError> {
        let id = required_str(params, "taskId", "the task id")?;
        let task: TaskRef = self
            .sealer
            .open(id, &ask.principal.id)
            .map_err(|e| invalid(format!("Unknown task: {e}")))?;
        let target = self
            .catalog
            .targets()
            .iter()
            .find(|t| t.name == task.target)
            .ok_or_else(|| invalid("Unknown task: its target is no longer served"))?
            .clone();
        let mut upstream = params.clone();
        upstream.remove("_meta");
        upstream.insert("taskId".into(), json!(task.task));
        let what = format!("Task of {}", task.target);
        let ctx = ask.context(target.timeout);
        let debug = self.settings.debug_errors;
        let answer = target
            .mcp_request(&ctx, method, &upstream, None)
            .await
            .map_err(|e| results::forwarded_failure(&what, &e, debug))?;
        let mut fields: Fields = serde_json::from_str(answer.result.get()).map_err(|_| {
            RpcError::new(
                jsonrpc::INTERNAL_ERROR,
                "the target sent a task that cannot be read",
            )
        })?;
        if fields.contains_key("taskId") {
            fields.insert("taskId".into(), raw_string(id));
        }
        strip_protocol_meta(&mut fields);
        if method == "tasks/result" {
            // The task the result is of, under the client's id (the upstream's was dropped).
            let mut meta: Map<String, Value> = fields
                .get("_meta")
                .and_then(|m| serde_json::from_str(m.get()).ok())
                .unwrap_or_default();
            meta.insert(RELATED_TASK.into(), json!({"taskId": id}));
            if let Ok(meta) = serde_json::value::to_raw_value(&meta) {
                fields.insert("_meta".into(), meta);
            }
        }
        Ok(jsonrpc::success(ask.id, &fields))
    }
}
