-- One page of a search, newest first (store/search.py builds the arguments from a Query).
--
-- The filters are groups of indexes: an order matches a group if it is in any of the group's
-- indexes, and the query if it matches every group. The script counts each group within the
-- number window (ZCOUNT, O(log n)), walks the smallest one downwards from the window's top and
-- checks the others by ZSCORE, so its cost follows the most selective filter, never the size of
-- the workspace. A scan budget bounds the candidates one call examines: Redis runs scripts one
-- at a time, and a sparse intersection must not stall every writer behind it.
--
-- KEYS: 1 ix:all, 2 ix:created, 3.. the filter indexes, group after group
-- ARGV: 1 workspace id, 2 order key prefix, 3 lowest number, 4 below this number ('' = none),
--       5 created from (ms, inclusive, ''), 6 created to (ms, exclusive, ''), 7 limit,
--       8 scan budget, 9 with history (1 | 0), 10.. the number of indexes in each group
-- Returns {next, examined, row...}: next = the number the next page continues below (0 when
-- nothing is left); each row is the order JSON, or {order JSON, history JSON} with history.

local ws = ARGV[1]
local prefix = ARGV[2]
local lo = tonumber(ARGV[3])
local from_ms = tonumber(ARGV[5])
local to_ms = tonumber(ARGV[6])
local limit = tonumber(ARGV[7])
local budget = tonumber(ARGV[8])
local with_history = ARGV[9] == '1'

local top = redis.call('ZREVRANGE', KEYS[1], 0, 0)
if #top == 0 then return {0, 0} end
local hi = tonumber(top[1])
if ARGV[4] ~= '' then hi = math.min(hi, tonumber(ARGV[4]) - 1) end

-- Times -> numbers: numbers grow with creation time, so [from, to) is a window of numbers.
-- Orders created in the same millisecond tie on score and sort as strings ('10' < '9'): take
-- the extreme number among the tied members.
local function edge(score, pick)
  local tied = redis.call('ZRANGEBYSCORE', KEYS[2], score, score, 'LIMIT', 0, 1000)
  local best = tonumber(tied[1])
  for i = 2, #tied do best = pick(best, tonumber(tied[i])) end
  return best
end
if from_ms then
  local first = redis.call('ZRANGEBYSCORE', KEYS[2], from_ms, '+inf', 'WITHSCORES', 'LIMIT', 0, 1)
  if #first == 0 then return {0, 0} end
  lo = math.max(lo, edge(first[2], math.min))
end
if to_ms then
  local last = redis.call('ZREVRANGEBYSCORE', KEYS[2], '(' .. to_ms, '-inf', 'WITHSCORES',
    'LIMIT', 0, 1)
  if #last == 0 then return {0, 0} end
  hi = math.min(hi, edge(last[2], math.max))
end
if hi < lo then return {0, 0} end

-- The groups, with their sizes inside the window.
local groups = {}
local k = 3
for g = 10, #ARGV do
  local keys, count = {}, 0
  for _ = 1, tonumber(ARGV[g]) do
    keys[#keys + 1] = KEYS[k]
    count = count + redis.call('ZCOUNT', KEYS[k], lo, hi)
    k = k + 1
  end
  if count == 0 then return {0, 0} end
  groups[#groups + 1] = {keys = keys, count = count}
end
table.sort(groups, function(a, b) return a.count < b.count end)
local driver = groups[1] and groups[1].keys or {KEYS[1]}
-- The rest are checked smallest first: the likeliest to reject a candidate.
local checks = {}
for i = 2, #groups do checks[#checks + 1] = groups[i].keys end

-- When the first check is one index not much larger than the driver, it is read alongside in
-- descending chunks (a merge join) instead of one ZSCORE call per candidate: a bulk range read
-- costs a fraction of a call per member. Candidates only go down, so its cursor only moves on.
local MERGE_RATIO = 4
local merged = nil
if #groups >= 2 and #groups[2].keys == 1 and groups[2].count <= MERGE_RATIO * groups[1].count then
  merged = {key = table.remove(checks, 1)[1], buf = {}, pos = 1, drained = false}
end

local function in_merged(n)
  local m = merged
  while true do
    if m.pos <= #m.buf then
      local v = m.buf[m.pos]
      if v == n then return true end
      if v < n then return false end
      m.pos = m.pos + 1
    elseif m.drained then
      return false
    else
      -- Read on from the candidate itself: members above it are of no use any more.
      local got = redis.call('ZREVRANGEBYSCORE', m.key, n, lo, 'LIMIT', 0, 200)
      for i = 1, #got do got[i] = tonumber(got[i]) end
      m.buf, m.pos, m.drained = got, 1, #got < 200
    end
  end
end

-- The next `want` numbers of the driver (a union of indexes) at or below `upto`, descending.
local function fetch(upto, want)
  if #driver == 1 then
    local got = redis.call('ZREVRANGEBYSCORE', driver[1], upto, lo, 'LIMIT', 0, want)
    for i = 1, #got do got[i] = tonumber(got[i]) end
    return got, #got < want
  end
  local all, seen, drained = {}, {}, true
  for _, key in ipairs(driver) do
    local got = redis.call('ZREVRANGEBYSCORE', key, upto, lo, 'LIMIT', 0, want)
    if #got == want then drained = false end  -- this index may hold more below
    for _, m in ipairs(got) do
      local n = tonumber(m)
      if not seen[n] then seen[n] = true all[#all + 1] = n end
    end
  end
  table.sort(all, function(a, b) return a > b end)
  -- Each index gave its top `want`, so the union's top `want` are among them.
  local exhausted = drained and #all <= want
  for i = #all, want + 1, -1 do all[i] = nil end
  return all, exhausted
end

local function matches(n)
  if merged and not in_merged(n) then return false end
  for _, keys in ipairs(checks) do
    local found = false
    for _, key in ipairs(keys) do
      if redis.call('ZSCORE', key, n) then found = true break end
    end
    if not found then return false end
  end
  if from_ms or to_ms then
    -- Exact times: the window is exact only while the clock never went back.
    local t = tonumber(redis.call('ZSCORE', KEYS[2], n))
    if (from_ms and t < from_ms) or (to_ms and t >= to_ms) then return false end
  end
  return true
end

-- The fields order_json needs (HMGET: the history and the index list stay in Redis unless
-- asked for; they are most of an order's bytes).
local FIELDS = {'id', 'n', 'st', 'items', 'cust', 'cash', 'prep', 'hto', 'hby', 'ca', 'ua', 'sa',
  'v', 'meta', 'pri'}
if with_history then FIELDS[#FIELDS + 1] = 'h' end
local function load(n)
  local values = redis.call('HMGET', prefix .. n, unpack(FIELDS))
  if not values[1] then return nil end
  local h = {}
  for i, name in ipairs(FIELDS) do h[name] = values[i] end
  return h
end

local out = {0, 0}
local examined = 0
local upto = hi
local chunk = #checks == 0 and limit or math.max(limit, 200)
while upto >= lo do
  local want = math.min(chunk, budget - examined)
  if want <= 0 then
    out[1] = upto + 1  -- the budget ran out: the next call resumes here
    break
  end
  local candidates, exhausted = fetch(upto, want)
  for _, n in ipairs(candidates) do
    examined = examined + 1
    if matches(n) then
      local h = load(n)
      if h then
        if with_history then
          out[#out + 1] = {order_json(h, ws), '[' .. h.h .. ']'}
        else
          out[#out + 1] = order_json(h, ws)
        end
        if #out - 2 == limit then
          out[1] = n
          break
        end
      end
    end
  end
  if out[1] ~= 0 or exhausted or #candidates == 0 then break end
  upto = candidates[#candidates] - 1
end
if out[1] ~= 0 and out[1] <= lo then out[1] = 0 end
out[2] = examined
return out
