-- Shared prelude of every orderlog script (store/scripts.py prepends it and fills the
-- {{SUFFIX_*}} markers from keys.INDEX_SUFFIXES, the one place index names are spelled).
--
-- An order is a hash of small fields; its JSON is built here by concatenation from fragments
-- that Python encoded (participants, items, metadata) so Lua never decodes user data: cjson
-- would turn 64-bit Roblox ids into doubles.
--
-- The order hash (P:{W}:o:N), field by field (short names: one hash per order, millions kept):
--   id    order id                      n     order number
--   st    current status                v     version (1 at creation, +1 per change)
--   ca    created at (ISO 8601)         cms   created at (epoch ms, for the created index)
--   ua    updated at (ISO 8601)         meta  metadata JSON
--   sa    in its status since (ISO 8601: creation, or the last change of status)
--   items items JSON (each item's "done" mark is rewritten in place by write.lua's mark_item)
--   cust  customer JSON                 cash  cashier JSON ('' none)
--   prep  preparer JSON ('' none)       hto   handed_to: recipient JSON
--   hby   handed_to: who handed it over (JSON)
--   pri   priority: normal or rush (absent: normal)
--   h     history: JSON entries, comma-joined (read as '[' .. h .. ']')
--   ixk   the index suffixes the order was added to, SEP-joined (retention removes them all)
-- docs/data-model.md has the same table.

local SEP = '\31'

local function split(s)
  local out = {}
  if s == nil or s == '' then return out end
  for part in string.gmatch(s, '([^' .. SEP .. ']+)') do out[#out + 1] = part end
  return out
end

-- Redis' clock in microseconds (one TIME: a script reads it once and derives what it needs).
local function now_us()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000000 + tonumber(t[2])
end

local function now_ms(us)
  return math.floor((us or now_us()) / 1000)
end

-- Milliseconds since the epoch -> ISO 8601 UTC (Howard Hinnant's civil_from_days).
local function iso(ms)
  local secs = math.floor(ms / 1000)
  local milli = ms - secs * 1000
  local days = math.floor(secs / 86400)
  local rem = secs - days * 86400
  local hh = math.floor(rem / 3600)
  rem = rem - hh * 3600
  local mi = math.floor(rem / 60)
  local ss = rem - mi * 60
  local z = days + 719468
  local era = math.floor(z / 146097)
  local doe = z - era * 146097
  local yoe = math.floor((doe - math.floor(doe / 1460) + math.floor(doe / 36524)
    - math.floor(doe / 146096)) / 365)
  local y = yoe + era * 400
  local doy = doe - (365 * yoe + math.floor(yoe / 4) - math.floor(yoe / 100))
  local mp = math.floor((5 * doy + 2) / 153)
  local d = doy - math.floor((153 * mp + 2) / 5) + 1
  local m = mp < 10 and mp + 3 or mp - 9
  if m <= 2 then y = y + 1 end
  return string.format('%04d-%02d-%02dT%02d:%02d:%02d.%03dZ', y, m, d, hh, mi, ss, milli)
end

local function hash_to_table(flat)
  local h = {}
  for i = 1, #flat, 2 do h[flat[i]] = flat[i + 1] end
  return h
end

local function json_or_null(v)
  if v == nil or v == '' then return 'null' end
  return v
end

-- An order's priority (an order stored before priorities were kept is normal).
local function priority_of(h)
  if h.pri == nil or h.pri == '' then return 'normal' end
  return h.pri
end

-- The order's JSON (without its history), the same bytes for events, reads and searches.
-- An order written before `sa` existed has none: its last update stands in, which is when it
-- entered its status unless that update kept the status (a handed_to order's new recipient).
local function order_json(h, workspace_id)
  local since = h.sa
  if not since or since == '' then since = h.ua end  -- nil from HGETALL, false from HMGET
  return '{"id":"' .. h.id .. '","order_number":' .. h.n .. ',"workspace_id":"' .. workspace_id
    .. '","status":"' .. h.st .. '","items":' .. h.items .. ',"customer":' .. h.cust
    .. ',"cashier":' .. json_or_null(h.cash) .. ',"preparer":' .. json_or_null(h.prep)
    .. ',"handed_to":' .. json_or_null(h.hto) .. ',"handed_by":' .. json_or_null(h.hby)
    .. ',"created_at":"' .. h.ca .. '","updated_at":"' .. h.ua .. '","status_since":"' .. since
    .. '","version":' .. h.v
    .. ',"priority":"' .. priority_of(h) .. '","metadata":' .. h.meta .. '}'
end

-- The stream's epoch, created on first use: a new workspace, or its stream was lost with the rest
-- of the data. A new epoch tells resuming dashboards that their cursors no longer mean anything.
local function ensure_epoch(key)
  local epoch = redis.call('GET', key)
  if not epoch then
    local t = redis.call('TIME')
    epoch = string.format('%x%05x', tonumber(t[1]), tonumber(t[2]))
    redis.call('SET', key, epoch)
  end
  return epoch
end

-- {first id or '', last id ('0-0' when empty), intact} of a stream; intact is '1' if no entry
-- was ever removed, '0' if some were, '' if it cannot be told. Redis >= 7 says it (XINFO
-- STREAM's entries-added = length); before 7, the stream was never trimmed if its first entry
-- is still the first it ever had (first_key, written by write.lua when it made the stream).
-- Trimming removes the oldest entries, so a cursor at or after the first entry, or any cursor
-- of an intact stream, misses nothing.
local function stream_bounds(key, first_key)
  local first = redis.call('XRANGE', key, '-', '+', 'COUNT', 1)
  local last = redis.call('XREVRANGE', key, '+', '-', 'COUNT', 1)
  local intact = '1'  -- a stream never written (or lost: the epoch tells that apart)
  if redis.call('EXISTS', key) == 1 then
    intact = ''
    local info = redis.pcall('XINFO', 'STREAM', key)
    if type(info) == 'table' and not info.err then
      local length, added
      for i = 1, #info - 1, 2 do
        if info[i] == 'length' then length = info[i + 1] end
        if info[i] == 'entries-added' then added = info[i + 1] end
      end
      if added then intact = (added == length) and '1' or '0' end
    end
    if intact == '' and first[1] and redis.call('GET', first_key) == first[1][1] then
      intact = '1'
    end
  end
  return {first[1] and first[1][1] or '', last[1] and last[1][1] or '0-0', intact}
end

-- Append an event to a workspace's stream and publish its wake-up, the same bytes both ways
-- (store/events.py, live/frames.py): ``st`` is the status it is about ('' for an event about no
-- order: every live client gets it), ``rest`` the tail of its frame. The stream's first event
-- is remembered in first_key (stream_bounds says why). Returns the event's id.
local function append_event(stream, first_key, channel, publish, epoch, maxlen, st, rest)
  local fresh = redis.call('EXISTS', stream) == 0
  local id = redis.call('XADD', stream, 'MAXLEN', '~', maxlen, '*', 's', st, 'f', rest)
  if fresh then redis.call('SET', first_key, id) end
  redis.call(publish, channel, id .. '\n' .. st .. '\n' .. epoch .. '\n' .. rest)
  return id
end

-- The order hash ``h`` (at its new status and version) with one more history entry: the change
-- from ``prev`` (nil: the creation) at ``at``, by ``actor`` (JSON or ''), with ``extra``
-- (',"reason":...' and the like, or '').
local function add_history(h, prev, actor, extra, at)
  local entry = '{"version":' .. h.v .. ',"status":"' .. h.st .. '","previous_status":'
    .. (prev and ('"' .. prev .. '"') or 'null') .. ',"at":"' .. at .. '","actor":'
    .. json_or_null(actor) .. extra .. '}'
  if h.h == nil or h.h == '' then return entry end
  return h.h .. ',' .. entry
end

local IX_ALL = '{{SUFFIX_all}}'
local IX_CREATED = '{{SUFFIX_created}}'
local IX_STATUS = '{{SUFFIX_status}}'
local IX_CID = '{{SUFFIX_customer_id}}'
local IX_CNAME = '{{SUFFIX_customer}}'
local IX_SID = '{{SUFFIX_staff_id}}'
local IX_SNAME = '{{SUFFIX_staff}}'
local IX_RID = '{{SUFFIX_role_id}}'
local IX_RNAME = '{{SUFFIX_role}}'
local IX_ITEM = '{{SUFFIX_item}}'
local IX_TOKEN = '{{SUFFIX_token}}'
local IX_VOCAB = '{{SUFFIX_vocab}}'
-- The text indexes whose values are also kept in a vocabulary (keys.VOCABULARIES).
local VOCABULARIES = {IX_CNAME, IX_SNAME, IX_ITEM, IX_TOKEN}

-- GCRA rate limit (see ratelimit.py): ``key`` holds the theoretical arrival time (TAT) in
-- microseconds of Redis' clock. Returns {remaining, reset_us, retry_us}; retry_us > 0 means
-- refused, and a refused request changes nothing (it does not push the TAT further out).
-- ``now``: Redis' clock in microseconds, if the script has read it already.
local function gcra(key, interval, burst, now)
  now = now or now_us()
  local tat = tonumber(redis.call('GET', key) or now)
  if tat < now then tat = now end
  local new_tat = tat + interval
  local allow_at = new_tat - interval * burst
  if allow_at > now then
    return {0, tat - now, allow_at - now}
  end
  redis.call('SET', key, string.format('%.0f', new_tat), 'PX',
    math.ceil((new_tat - now) / 1000) + 1)
  return {math.floor((now - allow_at) / interval), new_tat - now, 0}
end
