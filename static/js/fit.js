// The pickup screen's number grids, pure: the largest text that shows every number in its box,
// and pages of equal size when even the smallest readable text cannot.
//
// A cell (one number, with its name under it when the workspace shows names) scales with the
// font size: it is `cell.width` x `cell.height` ems, and cells are `gap` ems apart. So at a font
// size of s px, a box W x H px holds floor((W + gap*s) / ((width + gap)*s)) columns and as many
// rows by the same rule, and that capacity only shrinks as s grows: the largest size that holds
// `count` is found by bisection.

/** The grid for `count` cells in a box `width` x `height` px: {size (px), columns, rows,
 * perPage, pages}. `min`/`max` bound the font size (px): below `min` the text would not be read
 * from across the room, so the cells go on pages instead (at least one cell per page). */
export function fitGrid(count, { width, height, cell, gap, min, max }) {
  const capacity = (size) => {
    const columns = Math.max(0, Math.floor((width + gap * size) / ((cell.width + gap) * size)));
    const rows = Math.max(0, Math.floor((height + gap * size) / ((cell.height + gap) * size)));
    return { columns, rows };
  };
  const grid = (size, columns, rows) => {
    const perPage = Math.max(1, columns * rows);
    const pages = Math.max(1, Math.ceil(count / perPage));
    // a grid no wider than it needs to be: a few numbers stay centred
    const used = pages > 1 ? columns : Math.min(columns, Math.max(1, count));
    return { size, columns: Math.max(1, used), rows: Math.max(1, rows), perPage, pages };
  };
  const holds = (size) => {
    const { columns, rows } = capacity(size);
    return columns * rows >= Math.max(1, count);
  };
  if (!holds(min)) {
    const { columns, rows } = capacity(min);
    return grid(min, columns, rows);
  }
  // In half pixels: the largest size that holds them, exactly (so the same count in the same
  // box always finds the same size).
  let lo = Math.ceil(min * 2);
  let hi = Math.max(lo, Math.floor(max * 2));
  if (!holds(lo / 2)) return grid(min, capacity(min).columns, capacity(min).rows);
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (holds(mid / 2)) lo = mid;
    else hi = mid - 1;
  }
  const size = lo / 2;
  const { columns, rows } = capacity(size);
  return grid(size, columns, rows);
}

/** The cells of page `page` (0-based, wrapped into range) of `items`, `perPage` a page. */
export function pageOf(items, page, perPage) {
  const pages = Math.max(1, Math.ceil(items.length / perPage));
  const at = ((page % pages) + pages) % pages;
  return { page: at, pages, items: items.slice(at * perPage, (at + 1) * perPage) };
}
