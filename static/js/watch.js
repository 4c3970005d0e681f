// The dashboards' one use of live.js: a LiveOrders connection for this session's workspace,
// its state shown in the page header and banner. Pages get onUpdate(orders, changes): `orders`
// is the current Map id -> order within `statuses`; `changes` the events just applied ([] for a
// snapshot, after a fresh connect or a reset); and onState(state) when the link changes.
import { loadWorkspace, session, showConnection } from "./common.js";
import { LiveOrders } from "./live.js";

// Screens sit on a LAN next to their server: after a restart or a dropped link they retry within
// a few seconds rather than backing off to live.js's 30 s default.
const MAX_RECONNECT_DELAY_MS = 3000;

export async function watch({ statuses, onUpdate, onState = () => {} }) {
  const { workspace, readKey } = session();
  const ws = await loadWorkspace();
  const live = new LiveOrders({
    workspace,
    key: readKey,
    statuses,
    maxDelay: MAX_RECONNECT_DELAY_MS,
    terminal: ws.workflow.statuses.filter((s) => s.terminal).map((s) => s.name),
    onChange: (orders, change) => onUpdate(orders, change.type === "event" ? [change] : []),
    onState: (state, detail) => {
      showConnection(state, detail);
      onState(state);
    },
  });
  // The workflow changed (docs/protocol.md: workflow.changed, an event about no order): the
  // page's columns may have come, gone or been renamed. Reload, to draw them from the new
  // workflow and start from a fresh snapshot filtered by them.
  const receive = live.receive.bind(live);
  live.receive = (data) => (WORKFLOW_CHANGED.test(data) ? location.reload() : receive(data));
  return live.start();
}

const WORKFLOW_CHANGED = /"event":"workflow\.changed"/; // (inside a string it would be \")
