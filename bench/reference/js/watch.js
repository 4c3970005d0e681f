// The dashboards' one use of live.js: a LiveOrders connection for this session's workspace,
// its state shown in the page header. Pages get onUpdate(orders, changes): `orders` is the
// current Map id -> order within `statuses`; `changes` the events just applied ([] for a
// snapshot, after a fresh connect or a reset).
import { loadWorkspace, session, showConnection } from "./common.js";
import { LiveOrders } from "./live.js";

export async function watch({ statuses, onUpdate }) {
  const { workspace, readKey } = session();
  const ws = await loadWorkspace();
  const live = new LiveOrders({
    workspace,
    key: readKey,
    statuses,
    terminal: ws.workflow.statuses.filter((s) => s.terminal).map((s) => s.name),
    onChange: (orders, change) => onUpdate(orders, change.type === "event" ? [change] : []),
    onState: (state) => showConnection(state === "connecting" ? "reconnecting" : state),
  });
  return live.start();
}
