// The kitchen's layout, pure: tiles of known heights in equal columns, each placed under the
// shortest column so far (so a short ticket never leaves a hole beside a long one), up to the
// first tile that does not fit the box: that one starts the next page.

/** Place `heights` (in display order) in `columns` columns inside a box `height` tall.
 * Returns {count, places}: how many fit (always at least one: a ticket taller than the box is
 * still shown, and the caller grows the box for it) and, for each of those, [column, top].
 * `pad` is the box's padding, `gap` the space between tiles. */
export function masonry(heights, { columns, height, pad = 0, gap = 0 }) {
  const tops = new Array(columns).fill(pad);
  const places = [];
  const limit = height - pad;
  for (let i = 0; i < heights.length; i++) {
    let c = 0;
    for (let k = 1; k < columns; k++) if (tops[k] < tops[c]) c = k;
    if (i > 0 && tops[c] + heights[i] > limit) break;
    places.push([c, tops[c]]);
    tops[c] += heights[i] + gap;
  }
  return { count: places.length, places };
}
