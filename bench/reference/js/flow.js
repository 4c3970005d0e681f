// Workflow helpers for the pages (pure): what "bump" means, and which statuses read as "ready".

const isCancel = (name) => /cancel/.test(name);

/** The status a bump moves an order to: the next forward move of the workflow.
 * Forward = later in board order and not a side branch that leads back (preparing ->
 * finding_new_colleague is a side branch: it can return to preparing). Cancelling is never a
 * bump. From a side branch, the bump returns to the nearest earlier status it may enter. */
export function nextStatus(workflow, current) {
  const order = workflow.statuses.map((s) => s.name);
  const here = order.indexOf(current);
  const moves = (workflow.transitions[current] || []).filter((t) => t !== current && !isCancel(t));
  const back = (t) => (workflow.transitions[t] || []).includes(current);
  const later = moves.filter((t) => order.indexOf(t) > here).sort((a, b) => order.indexOf(a) - order.indexOf(b));
  const forward = later.find((t) => !back(t));
  if (forward) return forward;
  if (later.length) return later[0];
  const earlier = moves.filter((t) => order.indexOf(t) < here).sort((a, b) => order.indexOf(b) - order.indexOf(a));
  return earlier[0] || null;
}

/** The statuses a pickup screen shows as "Ready": waiting_for_pickup and what follows it
 * before the end (handed_to), or in a custom workflow the last active status. */
export function readyStatuses(workflow) {
  const active = workflow.statuses.filter((s) => !s.terminal).map((s) => s.name);
  const at = active.indexOf("waiting_for_pickup");
  if (at >= 0) return active.slice(at);
  return active.slice(-1);
}
