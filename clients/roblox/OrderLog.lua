--!strict
--[[
OrderLog: the orderlog client for Roblox game servers (a ModuleScript in ServerScriptService).

A drop-in for the Hyra Order Logging module: replace `require(15254660066)` with
`require(path.to.OrderLog)` and keep every call. See README.md beside this file.

How it works, and why:
- One queue and one worker per Luau VM (a game server, or each Actor: every Actor runs its own
  copy of a module). Every write is queued and sent in batches through POST /batch (at most
  `batchSize` operations, at most `maxBatchBytes` of JSON), in queue order, one request at a
  time, so the updates of one order always arrive in the order they were made.
- A budget it never exceeds: at most `budgetPerMinute` requests in any 60 s window, smoothed by
  a token bucket of `burst`. Roblox allows a game server 500 requests a minute in all.
- A batch is encoded once, with one Idempotency-Key; every retry sends the very same bytes with
  the same key, so a retry after a lost answer is replayed by the server, never applied twice.
  The batch being sent is kept outside the worker, so a restarted worker resends it unchanged.
- Failures are classified. Permanent ones (HTTP requests disabled, a URL or Secret Roblox
  refuses, 401/403/404 from the workspace) fail the operations at once. Transient ones (network
  errors, 429, 5xx) are retried with exponential backoff, jitter and Retry-After, for as long as
  it takes: nothing queued is lost. The first failure in a row and every 10th are `warn`ed with
  a readable reason; `onError` hears each.
- Nothing waits for ever: createOrder and getOrder return after `createTimeout` seconds in all
  (queued and in flight). A create given up that way stays queued and is still sent, with its
  idempotency key, so it is logged once.
- The worker never dies: each step runs under pcall (Luau lets a pcall'd function yield, so the
  HTTP request is inside it), a waiting thread that was cancelled or closed is skipped, and a
  watchdog starts a new worker if the thread is ever killed or stalls.
- Values JSON cannot carry (NaN, infinity, cycles, functions, Instances, mixed tables) are
  refused when the call is made, naming the field; nothing else is affected.
]]

local HttpService = game:GetService("HttpService")
local RunService = game:GetService("RunService")

-- Where your orderlog server is. Set it here once, or pass {baseUrl = ...} to setupAPI. A live
-- server cannot reach localhost (that is Roblox's own machine): use your server's https address.
local DEFAULT_BASE_URL = "http://localhost:8000"

export type Participant = Player | { UserId: number | string, Name: string, DisplayName: string? }
export type Item = string | { name: string, quantity: number?, notes: string? }

-- A handle names an order before the server has answered (createOrderAsync); every setX call and
-- getOrder accept one in place of an id. `id` and `order_number` are filled in when it is known.
export type OrderHandle = {
	ref: string,
	id: string?,
	order_number: number?,
	pending: boolean,
	error: string?,
}

-- What every call answers: `error` is nil on success, else a readable message. The order's
-- fields are set where known; `queued` means the operation waits in the queue to be sent;
-- `pending` (with an error) that a create is not confirmed yet but will still be sent.
export type OrderResult = {
	error: string?,
	id: string?,
	order_number: number?,
	status: string?,
	order: { [string]: any }?,
	changed: boolean?,
	handle: OrderHandle?,
	queued: boolean?,
	pending: boolean?,
	dryRun: boolean?,
	statusCode: number?,
}

export type ErrorInfo = {
	kind: string, -- "operation": an operation failed for good; "request": a request failed and is retried
	op: string?,
	status: string?,
	id: string?,
	statusCode: number?,
	attempt: number?,
	queued: number?,
	permanent: boolean?,
}

export type Options = {
	baseUrl: string?,
	budgetPerMinute: number?,
	burst: number?,
	batchSize: number?,
	maxBatchBytes: number?,
	flushInterval: number?,
	maxRetries: number?,
	retryBase: number?,
	retryMax: number?,
	maxQueue: number?,
	createTimeout: number?,
	shutdownTimeout: number?,
	dryRun: boolean?,
	onError: ((message: string, info: ErrorInfo) -> ())?,
}

-- "rush": kitchen screens show the ticket first and mark it.
export type Priority = "normal" | "rush"

export type CreateOptions = {
	items: { Item }?,
	status: string?,
	metadata: { [string]: any }?,
	priority: Priority?,
}

export type StatusOptions = {
	actor: (Participant | number)?,
	handedTo: Participant?,
	reason: string?,
	callback: ((OrderResult) -> ())?,
}

export type PriorityOptions = {
	actor: (Participant | number)?,
	callback: ((OrderResult) -> ())?,
}

export type Stats = {
	requests: number,
	batches: number,
	operations: number,
	retries: number,
	failed: number,
	restarts: number,
	queued: number,
	sending: number,
	dryRun: boolean,
}

type Config = {
	baseUrl: string,
	budgetPerMinute: number,
	burst: number,
	batchSize: number,
	maxBatchBytes: number,
	flushInterval: number,
	maxRetries: number,
	retryBase: number,
	retryMax: number,
	maxQueue: number,
	createTimeout: number,
	shutdownTimeout: number,
	dryRun: boolean,
	onError: ((message: string, info: ErrorInfo) -> ())?,
}

type Entry = {
	kind: string, -- "create" | "status" | "priority" | "get"
	body: { [string]: any },
	handle: OrderHandle?,
	target: (string | OrderHandle)?,
	waiter: thread?,
	token: {}?,
	callback: ((OrderResult) -> ())?,
	done: boolean,
	abandoned: boolean?,
	urgent: boolean?,
	queuedAt: number,
}

type Batch = { entries: { Entry }, body: string, key: string, attempt: number }

local DEFAULTS: Config = {
	baseUrl = DEFAULT_BASE_URL,
	budgetPerMinute = 120, -- requests in any 60 s window, retries and reads included
	burst = 10, -- requests that may go back to back before the steady rate applies
	batchSize = 100, -- operations per request (the server takes at most 100)
	maxBatchBytes = 60000, -- JSON bytes per request (the server takes at most 65536)
	flushInterval = 0.5, -- seconds a lone update waits for company before it is sent
	maxRetries = math.huge, -- failed attempts before a batch is given up (default: never)
	retryBase = 1, -- first backoff, seconds; doubles on each failure
	retryMax = 30, -- longest backoff, seconds
	maxQueue = 10000, -- queued operations beyond which new ones are refused
	createTimeout = 30, -- seconds createOrder/getOrder wait in all, sending included
	shutdownTimeout = 25, -- seconds BindToClose spends flushing (Roblox allows 30 in total)
	dryRun = false, -- log operations locally instead of sending them (Studio)
	onError = nil, -- function(message, info) called for every failure
}

local SYSTEM_ACTORS = { [1] = true, [2] = true, [3] = true, [4] = true }
local PRIORITIES = { normal = true, rush = true }
local WINDOW = 60
local WATCHDOG_INTERVAL = 5
local STALL_LIMIT = 180 -- seconds without a worker step while work waits: a stalled worker
local MAX_SERVER_ERROR_RETRIES = 3
local MAX_DEPTH = 16

local OrderLog = {}
OrderLog.System = { POS = 1, Kiosk = 2, MobileOrdering = 3, NPC = 4 }

-- Everything below is per VM: one queue, one worker, one budget.
local config: Config? = nil
local authorization: any = nil -- the "Bearer <key>" header value (a string or a Secret); nowhere else
local workspaceUrl = ""
local refused: string? = nil -- why every call fails at once (a setup that cannot work here)
local dryRunReason: string? = nil
local clock = os.clock

local queue: { Entry } = {}
local qHead, qTail = 1, 0
local current: Batch? = nil -- the batch being sent: resent unchanged by a restarted worker
local workerThread: thread? = nil
local workerGeneration = 0
local idleThread: thread? = nil -- the worker, while it waits for work
local WAKE = {}
local heartbeatAt = 0
local watchdogScheduled = false
local lingering = false
local closing = false -- BindToClose is flushing: send at once, no lingering
local closed = false -- the flush is over: nothing more can be sent
local closeDeadline: number? = nil
local refCounter = 0
local dryRunCounter = 0
local handles: { [any]: boolean } = setmetatable({}, { __mode = "k" }) :: any
local failures = 0 -- requests failed in a row
local lastProblem: string? = nil

local stats = { requests = 0, batches = 0, operations = 0, retries = 0, failed = 0, restarts = 0 }

-- Small helpers -------------------------------------------------------------------------------
local function cfg(): Config
	return (config :: Config)
end

local function prefixed(message: string): string
	if message:sub(1, 8) ~= "OrderLog" then
		return "OrderLog: " .. message
	end
	return message
end

local function callOnError(message: string, info: ErrorInfo)
	local onError = config and config.onError
	if onError then
		-- Its own thread: an error or a yield in it never reaches the worker.
		task.spawn(onError, message, info)
	end
end

local function report(message: string, info: ErrorInfo)
	-- An operation failed for good: onError if set, else a warning.
	stats.failed += 1
	message = prefixed(message)
	if config and config.onError then
		callOnError(message, info)
	else
		warn(message)
	end
end

local function field(object: any, name: string): any
	-- A missing property of an Instance throws; of a table it is nil.
	local ok, value = pcall(function()
		return object[name]
	end)
	if ok then
		return value
	end
	return nil
end

local function stripBatchPrefix(message: string): string
	-- The server names fields of a batch "operations[3].status"; the caller knows no batch.
	return (message:gsub("operations%[%d+%]%.?", ""))
end

local function isOrderId(id: any): boolean
	if type(id) ~= "string" then
		return false
	end
	if #id == 24 and id:match("^[0-9a-f]+$") ~= nil then
		return true
	end
	return dryRunReason ~= nil and id:match("^dry%-run%-%d+$") ~= nil
end

local function header(response: any, name: string): string?
	local headers = response.Headers
	if type(headers) ~= "table" then
		return nil
	end
	name = name:lower()
	for key, value in headers do
		if type(key) == "string" and key:lower() == name then
			return value
		end
	end
	return nil
end

local function decode(body: string?): any
	local ok, value = pcall(function()
		return HttpService:JSONDecode(body or "")
	end)
	if ok then
		return value
	end
	return nil
end

local function errorMessage(response: any): (string, any)
	local body = decode(response.Body)
	if type(body) == "table" and type(body.message) == "string" then
		return stripBatchPrefix(body.message), body
	end
	return "HTTP " .. tostring(response.StatusCode) .. " " .. tostring(response.StatusMessage), body
end

-- Values JSON can carry ------------------------------------------------------------------------
local function checkValue(value: any, path: string, seen: { [any]: boolean }, depth: number): string?
	-- Why `value` cannot go into the request body, naming the field; nil when it can.
	local kind = typeof(value)
	if kind == "nil" or kind == "boolean" then
		return nil
	elseif kind == "number" then
		if value ~= value then
			return path .. " is NaN"
		elseif value == math.huge or value == -math.huge then
			return path .. " is infinite"
		end
		return nil
	elseif kind == "string" then
		if utf8.len(value) == nil then
			return path .. " is not valid UTF-8 text"
		end
		return nil
	elseif kind ~= "table" then
		local article = if kind:match("^[AEIOUaeiou]") then "an " else "a "
		return path .. " is " .. article .. kind .. " (JSON cannot hold it; send its Name or a number instead)"
	end
	if seen[value] then
		return path .. " contains itself (a cycle)"
	end
	if depth > MAX_DEPTH then
		return path .. " is nested more than " .. MAX_DEPTH .. " levels deep"
	end
	seen[value] = true
	local count, named = 0, false
	for key in value do
		if type(key) == "number" then
			count += 1
		elseif type(key) == "string" then
			named = true
		else
			seen[value] = nil
			return path .. " has a " .. typeof(key) .. " key (only strings or 1..n)"
		end
	end
	if count > 0 and named then
		seen[value] = nil
		return path .. " mixes list items and named keys (JSON would drop the names)"
	end
	if count > 0 and #value ~= count then
		seen[value] = nil
		return path .. " is a list with gaps (keys must be 1..n)"
	end
	for key, item in value do
		local sub = if type(key) == "number" then path .. "[" .. key .. "]" else path .. "." .. key
		local problem = checkValue(item, sub, seen, depth + 1)
		if problem ~= nil then
			seen[value] = nil
			return problem
		end
	end
	seen[value] = nil
	return nil
end

local function participant(value: any, where: string, allowSystem: boolean): any
	if value == nil then
		return nil
	end
	if type(value) == "number" then
		if allowSystem and SYSTEM_ACTORS[value] then
			return value
		end
		error(where .. " must be a Player" .. (if allowSystem then " or a system id 1-4" else ""), 0)
	end
	local userId = field(value, "UserId")
	local name = field(value, "Name")
	if type(userId) == "number" then
		-- Studio's test players have ids 0, -1, -2...: the server takes them as they are.
		if userId ~= userId or userId == math.huge or userId == -math.huge or userId % 1 ~= 0 then
			error(where .. ".UserId must be a whole number", 0)
		end
	elseif type(userId) ~= "string" then
		error(where .. " must be a Player (UserId, Name, DisplayName)", 0)
	end
	if type(name) ~= "string" or name == "" then
		error(where .. ".Name must be a non-empty string", 0)
	end
	local out: { [string]: any } = { UserId = userId, Name = name }
	local display = field(value, "DisplayName")
	if type(display) == "string" and display ~= "" then
		out.DisplayName = display
	end
	return out
end

local function itemList(items: any): { any }?
	if items == nil then
		return nil
	end
	if type(items) ~= "table" then
		error("items must be a list", 0)
	end
	local out = {}
	for i = 1, #items do
		local item = items[i]
		if type(item) == "string" then
			out[i] = item
		elseif type(item) == "table" and type(item.name) == "string" then
			out[i] = { name = item.name, quantity = item.quantity, notes = item.notes }
		else
			error("items[" .. i .. "] must be a string or {name=, quantity=, notes=}", 0)
		end
	end
	if next(items) ~= nil and #out == 0 then
		error("items must be a list, not a dictionary", 0)
	end
	return out -- an empty table encodes as [], which the server takes as no items
end

local function checkBody(body: { [string]: any }): string?
	for _, name in { "items", "metadata", "reason", "status" } do
		local problem = checkValue(body[name], name, {}, 1)
		if problem ~= nil then
			return problem
		end
	end
	return nil
end

-- The budget ----------------------------------------------------------------------------------
local sendTimes: { number } = {} -- ring of the last `budgetPerMinute` send times
local sendIndex = 0
local tokens = 0
local tokensAt = 0

local function budgetDelay(now: number): number
	local limit = cfg().budgetPerMinute
	local wait = 0
	local oldest = sendTimes[(sendIndex % limit) + 1]
	if oldest ~= nil and now - oldest < WINDOW then
		wait = WINDOW - (now - oldest)
	end
	local rate = limit / WINDOW
	local available = math.min(cfg().burst, tokens + (now - tokensAt) * rate)
	if available < 1 then
		wait = math.max(wait, (1 - available) / rate)
	end
	return wait
end

local function keepBudget(limit: number)
	-- The ring for a (new) limit, with the latest send times of the old one.
	local times = {}
	for _, at in sendTimes do
		table.insert(times, at)
	end
	table.sort(times)
	sendTimes, sendIndex = {}, 0
	for i = math.max(1, #times - limit + 1), #times do
		sendIndex += 1
		sendTimes[sendIndex] = times[i]
	end
	sendIndex = sendIndex % limit
end

local function takeBudget()
	-- Yields until one request fits the budget, then books it.
	while true do
		local now = clock()
		local wait = budgetDelay(now)
		if wait <= 0 then
			local c = cfg()
			local rate = c.budgetPerMinute / WINDOW
			tokens = math.min(c.burst, tokens + (now - tokensAt) * rate) - 1
			tokensAt = now
			sendIndex = (sendIndex % c.budgetPerMinute) + 1
			sendTimes[sendIndex] = now
			stats.requests += 1
			return
		end
		task.wait(wait)
	end
end

-- The queue -----------------------------------------------------------------------------------
local function queued(): number
	return qTail - qHead + 1
end

local function wake()
	-- Deferred, never inline: the caller reaches its own yield before the worker runs.
	local thread = idleThread
	if thread ~= nil then
		idleThread = nil
		if coroutine.status(thread) == "suspended" then
			task.defer(thread, WAKE)
		end
	end
end

local watchdog: () -> ()

local function push(entry: Entry)
	qTail += 1
	queue[qTail] = entry
	entry.queuedAt = clock()
	if entry.urgent then
		queue[qHead].urgent = true -- everything before it goes first anyway
	end
	if entry.urgent or closing or not lingering or queued() >= cfg().batchSize then
		wake()
	end
	if not watchdogScheduled then
		watchdogScheduled = true
		task.delay(WATCHDOG_INTERVAL, watchdog)
	end
end

local function pop(): Entry
	local entry = queue[qHead]
	queue[qHead] = nil :: any
	qHead += 1
	if qHead > qTail then
		qHead, qTail = 1, 0
	end
	return entry
end

local function requeue(entries: { Entry })
	-- Back to the front of the queue, in order: nothing of them was written.
	for i = #entries, 1, -1 do
		qHead -= 1
		queue[qHead] = entries[i]
	end
end

local function resumeWaiter(entry: Entry, result: OrderResult)
	-- Hand a result to the thread waiting in createOrder/getOrder, if it still waits. A thread
	-- that was cancelled or closed (task.cancel, a Promise's timeout) is dead: skip it.
	local thread, token = entry.waiter, entry.token
	entry.waiter, entry.token = nil, nil
	if thread == nil or coroutine.status(thread) ~= "suspended" then
		return
	end
	local ok, problem = pcall(task.spawn, thread, token, result)
	if not ok then
		warn("OrderLog: could not resume a waiting thread: " .. tostring(problem))
	end
end

local function finish(entry: Entry, result: OrderResult)
	-- Hand an operation's result to whoever waits for it: a yielding call, a callback, onError.
	if entry.done then
		return
	end
	entry.done = true
	local handle = entry.handle
	if handle ~= nil then
		handle.pending = false
		handle.error = result.error
		handle.id = result.id
		handle.order_number = result.order_number
	end
	if result.error ~= nil and not entry.abandoned then
		report(result.error, {
			kind = "operation",
			op = entry.body.op or "get",
			status = entry.body.status,
			id = entry.body.id or result.id,
			statusCode = result.statusCode,
		})
	end
	resumeWaiter(entry, result)
	if entry.callback ~= nil then
		task.spawn(entry.callback, result)
	end
end

local function notAccepted(): string?
	if config == nil then
		return "OrderLog: call setupAPI(apiKey, workspaceId) first"
	elseif refused ~= nil then
		return refused
	elseif closed then
		return "OrderLog: the server has shut down"
	elseif queued() >= cfg().maxQueue then
		return "OrderLog: the queue is full (" .. cfg().maxQueue .. " operations)"
	end
	return nil
end

-- Sending -------------------------------------------------------------------------------------
local function readable(problem: string): string
	-- What a RequestAsync error means, for the one reading the warning.
	problem = problem:gsub("^[%w_%.]+:%d+: ", "") -- a script position, if one was added
	local lower = problem:lower()
	local hints = {
		{ "dnsresolve", "the server's name does not resolve (check baseUrl)" },
		{ "connectfail", "nothing answers at that address (is the server running? on a live server, localhost is Roblox's machine)" },
		{ "ssl", "the HTTPS connection failed (the server needs a valid certificate)" },
		{ "timedout", "the server did not answer in time" },
		{ "exceeded limit", "this game server reached Roblox's 500 HTTP requests a minute" },
		{ "not enabled", "HTTP requests are off: File > Experience Settings > Security > Allow HTTP Requests" },
		{ "secret", "the Secret cannot be used for this URL (check the Secret's domain)" },
	}
	for _, hint in hints do
		if lower:find(hint[1], 1, true) then
			return problem .. ": " .. hint[2]
		end
	end
	return problem
end

local function isPermanentThrow(problem: string): boolean
	-- Errors RequestAsync throws that no retry can mend: HTTP disabled in the game's settings, a
	-- URL Roblox refuses, a Secret whose domain does not match the URL.
	local lower = problem:lower()
	for _, word in { "not enabled", "invalidurl", "invalid url", "trust check", "secret", "url must" } do
		if lower:find(word, 1, true) then
			return true
		end
	end
	return false
end

local function requestFailed(problem: string, permanent: boolean)
	-- One failed request: warn on the first in a row and every 10th, tell onError each time.
	failures += 1
	lastProblem = problem
	local message = "OrderLog: request failed (" .. failures .. " in a row): " .. problem
	if not permanent then
		message ..= "; retrying, " .. (queued() + (if current then #current.entries else 0)) .. " operations waiting"
	end
	if failures == 1 or failures % 10 == 0 then
		warn(message)
	end
	callOnError(message, {
		kind = "request",
		attempt = failures,
		queued = queued(),
		permanent = permanent,
	})
end

local function requestWorked()
	if failures > 0 then
		print("OrderLog: the order server answers again (after " .. failures .. " failed requests)")
	end
	failures = 0
	lastProblem = nil
end

local function backoff(attempt: number, retryAfter: number?): number
	local c = cfg()
	local delay = math.min(c.retryMax, c.retryBase * 2 ^ (attempt - 1))
	delay *= 0.5 + math.random() * 0.5 -- jitter: a restarting server is not stampeded
	if retryAfter ~= nil and retryAfter > delay then
		delay = math.min(retryAfter, 300)
	end
	return delay
end

local function sleep(seconds: number): boolean
	-- A backoff, cut short (false) when the server shuts down and it would outlast the flush.
	local wakeAt = clock() + seconds
	while clock() < wakeAt do
		if closeDeadline ~= nil and wakeAt > closeDeadline then
			return false
		end
		heartbeatAt = clock()
		task.wait(math.min(5, wakeAt - clock()))
	end
	return true
end

type Outcome = { response: any?, problem: string?, permanent: boolean?, retryAfter: number? }

local function attempt(method: string, url: string, body: string?, key: string?, auth: any, lookup: boolean?): Outcome
	-- One request. A response is an answer to act on (2xx, or a 4xx other than 401/403/404, or
	-- a 404 of a `lookup`); else `problem` says why, `permanent` whether a retry could help.
	local req: { [string]: any } = { Url = url, Method = method, Headers = { Authorization = auth or authorization } }
	if body ~= nil then
		req.Body = body
		req.Headers["Content-Type"] = "application/json"
		req.Headers["Idempotency-Key"] = key
	end
	takeBudget()
	local ok, response = pcall(function()
		return HttpService:RequestAsync(req :: any)
	end)
	heartbeatAt = clock()
	if not ok then
		local problem = tostring(response)
		return { problem = readable(problem), permanent = isPermanentThrow(problem) }
	end
	local code = response.StatusCode
	if code == 401 or code == 403 or (code == 404 and not lookup) then
		local message = errorMessage(response)
		local hint = if code == 401
			then "the API key was refused (check the Secret)"
			elseif code == 403 then "the key may not do this (a write key of this workspace?)"
			else "no such workspace at " .. cfg().baseUrl
		return { problem = "HTTP " .. code .. " " .. message .. ": " .. hint, permanent = true, response = response }
	end
	if code == 408 or code == 425 or code == 429 or code >= 500 then
		local message = errorMessage(response)
		return {
			problem = "HTTP " .. code .. " " .. message,
			permanent = false,
			retryAfter = tonumber(header(response, "Retry-After")),
			response = response,
		}
	end
	return { response = response }
end

local function request(method: string, url: string, body: string?, key: string?, retries: number?): Outcome
	-- A request retried until it is answered for good, or given up (permanent, out of retries,
	-- or the server shuts down). The same bytes and key are resent each time.
	local tries, serverErrors = 0, 0
	local limit = retries or cfg().maxRetries
	while true do
		local outcome = attempt(method, url, body, key, nil, method == "GET")
		if outcome.problem == nil then
			requestWorked()
			return outcome
		end
		local problem = outcome.problem :: string
		requestFailed(problem, outcome.permanent == true)
		if outcome.permanent then
			return outcome
		end
		local code = outcome.response and outcome.response.StatusCode
		if code ~= nil and code >= 500 and code ~= 502 and code ~= 503 and code ~= 504 then
			-- The same bytes likely fail the same way: give up after a few, not block the queue.
			serverErrors += 1
		end
		tries += 1
		if tries > limit or serverErrors > MAX_SERVER_ERROR_RETRIES then
			return outcome
		end
		stats.retries += 1
		if not sleep(backoff(tries, outcome.retryAfter)) then
			outcome.problem = problem .. " (the server shut down before it could be sent)"
			return outcome
		end
	end
end

local function resolveTarget(entry: Entry, inBatch: { [string]: boolean }): string?
	-- Names a status op's order now: an id, or the ref of a create earlier in this batch.
	local target = entry.target
	entry.body.id, entry.body.order_ref = nil, nil
	if type(target) == "string" then
		entry.body.id = target
	elseif target ~= nil and target.id ~= nil then
		entry.body.id = target.id
	elseif target ~= nil and inBatch[target.ref] then
		entry.body.order_ref = target.ref
	elseif target ~= nil and target.pending then
		return "wait" -- its create is still being sent: this op goes in a later batch
	else
		return "OrderLog: the order was not created: " .. tostring(target and target.error or "unknown")
	end
	return nil
end

local function formBatch(limit: number): Batch?
	-- Take a prefix of the queue that fits one request. The result is frozen: its retries
	-- resend these bytes with this key.
	local entries, parts, size = {}, {}, 0
	local inBatch: { [string]: boolean } = {}
	while qHead <= qTail and #entries < limit do
		local entry = queue[qHead]
		if entry.kind == "get" then
			break
		end
		local problem: string? = nil
		if entry.done then
			problem = "given up"
		elseif entry.kind ~= "create" then -- a status or priority change names its order
			problem = resolveTarget(entry, inBatch)
			if problem == "wait" and #entries > 0 then
				break -- its create goes in this request's answer; this op in the next request
			elseif problem == "wait" then
				problem = "OrderLog: the order's create was never sent"
			end
		end
		local encoded: string? = nil
		if problem == nil then
			local ok, result = pcall(function()
				return HttpService:JSONEncode(entry.body)
			end)
			if ok then
				encoded = result
			else
				problem = "OrderLog: cannot encode the operation as JSON: " .. tostring(result)
			end
		end
		if problem ~= nil then
			pop()
			finish(entry, { error = problem })
		else
			local text = encoded :: string
			if #entries > 0 and size + #text + 1 > cfg().maxBatchBytes then
				break
			end
			pop()
			size += #text + 1
			table.insert(entries, entry)
			table.insert(parts, text)
			if entry.handle ~= nil then
				inBatch[entry.handle.ref] = true
			end
		end
	end
	if #entries == 0 then
		return nil
	end
	return {
		entries = entries,
		body = '{"operations":[' .. table.concat(parts, ",") .. "]}",
		key = HttpService:GenerateGUID(false),
		attempt = 0,
	}
end

local function sendCurrent(): number?
	-- Sends `current` until it is answered; returns the next batch size limit (after a 413).
	local batch = current :: Batch
	local entries = batch.entries
	local outcome = request("POST", workspaceUrl .. "/batch", batch.body, batch.key)
	if current == batch then
		current = nil -- (a worker restarted meanwhile may have sent it, and formed the next)
	end
	stats.batches += 1
	local response = outcome.response
	if outcome.problem ~= nil then
		for _, entry in entries do
			finish(entry, { error = "OrderLog: " .. (outcome.problem :: string), statusCode = response and response.StatusCode })
		end
		return nil
	end
	local decoded = decode(response.Body)
	if response.StatusCode == 200 and type(decoded) == "table" and type(decoded.results) == "table" then
		stats.operations += #entries
		for i, entry in entries do
			local r = decoded.results[i] or {}
			if r.ok then
				finish(entry, {
					error = nil,
					id = r.id,
					order_number = r.order_number,
					status = r.order and r.order.status,
					order = r.order,
					changed = r.changed,
				})
			else
				finish(entry, {
					error = stripBatchPrefix(tostring(r.message or "no result")),
					statusCode = r.statusCode,
				})
			end
		end
		return nil
	end
	-- The whole request was refused; nothing of it was written.
	local message, errorBody = errorMessage(response)
	local bad = nil
	if type(errorBody) == "table" and type(errorBody.field) == "string" then
		bad = tonumber(errorBody.field:match("^operations%[(%d+)%]"))
	end
	if response.StatusCode == 422 and bad ~= nil and entries[bad + 1] ~= nil and #entries > 1 then
		-- One bad operation: it fails, the others go again (a new batch, a new key).
		local rest = {}
		for i, entry in entries do
			if i == bad + 1 then
				finish(entry, { error = message, statusCode = 422 })
			else
				table.insert(rest, entry)
			end
		end
		requeue(rest)
		return nil
	end
	if (response.StatusCode == 413 or response.StatusCode == 400) and #entries > 1 then
		-- Too large, or a body the server could not read: halves, until the culprit is alone.
		requeue(entries)
		return math.max(1, math.floor(#entries / 2))
	end
	for _, entry in entries do
		finish(entry, { error = message, statusCode = response.StatusCode })
	end
	return nil
end

local function sendGet(entry: Entry)
	pop()
	local target = entry.target
	if type(target) == "table" then
		if target.id == nil then
			finish(entry, { error = "OrderLog: the order was not created: " .. tostring(target.error) })
			return
		end
		target = target.id
	end
	if entry.done then
		return -- its caller stopped waiting before it was sent
	end
	local outcome = request("GET", workspaceUrl .. "/orders/" .. tostring(target), nil, nil, 2)
	local response = outcome.response
	if outcome.problem ~= nil then
		finish(entry, { error = "OrderLog: " .. (outcome.problem :: string) })
	elseif response.StatusCode == 200 then
		local order = decode(response.Body) or {}
		finish(entry, { error = nil, id = order.id, order_number = order.order_number, status = order.status, order = order })
	else
		finish(entry, { error = (errorMessage(response)), statusCode = response.StatusCode })
	end
end

local function idle()
	-- Wait for push() to wake the worker. Only WAKE ends the wait: a stray resume is ignored.
	idleThread = coroutine.running()
	while true do
		local signal = coroutine.yield()
		if signal == WAKE then
			return
		end
		idleThread = coroutine.running()
	end
end

local limit: number? = nil

local function step()
	heartbeatAt = clock()
	if current ~= nil then
		limit = sendCurrent()
		return
	end
	if qHead > qTail then
		idle()
		return
	end
	local head = queue[qHead]
	local c = cfg()
	local age = clock() - head.queuedAt
	local urgent = closing or head.urgent or queued() >= c.batchSize
	if not urgent and age < c.flushInterval then
		-- Let a lone update gather company; an urgent push or the timer ends the wait.
		lingering = true
		task.delay(c.flushInterval - age, wake)
		idle()
		lingering = false
	elseif head.kind == "get" then
		sendGet(head)
	else
		current = formBatch(limit or c.batchSize)
	end
end

local function startWorker()
	workerGeneration += 1
	local generation = workerGeneration
	idleThread = nil
	lingering = false
	heartbeatAt = clock()
	workerThread = task.spawn(function()
		while generation == workerGeneration do
			local ok, problem = pcall(step)
			if not ok then
				-- A bug, or an error in what Roblox gave us: say it, keep the queue moving.
				warn("OrderLog: error in the send worker (it keeps running): " .. tostring(problem))
				task.wait(1)
			end
		end
	end)
end

function watchdog()
	-- Restarts the worker if its thread was killed (task.cancel, coroutine.close) or stalled.
	watchdogScheduled = false
	if config == nil or closed then
		return
	end
	local busy = qHead <= qTail or current ~= nil
	local thread = workerThread
	local dead = thread == nil or coroutine.status(thread) == "dead"
	local stalled = busy and idleThread == nil and clock() - heartbeatAt > STALL_LIMIT
	if busy and dead then
		stats.restarts += 1
		warn("OrderLog: the send worker had stopped; started a new one (nothing queued is lost)")
		startWorker()
	elseif stalled then
		stats.restarts += 1
		warn("OrderLog: the send worker made no progress for " .. STALL_LIMIT .. " s; started a new one")
		startWorker()
	elseif busy and idleThread ~= nil then
		wake() -- work waits and the worker sleeps: a wake-up was lost
	end
	if busy then
		watchdogScheduled = true
		task.delay(WATCHDOG_INTERVAL, watchdog)
	end
end

-- Waiting for an answer -------------------------------------------------------------------------
local function await(entry: Entry): OrderResult
	-- Yield the calling thread until the worker answers, or createTimeout passes (queued and in
	-- flight together). On time-out a create stays queued and is still sent.
	local thread = coroutine.running()
	if not coroutine.isyieldable() then
		return { error = "OrderLog: call this from a script thread (it yields)" }
	end
	local token = {}
	entry.waiter, entry.token, entry.urgent = thread, token, true
	push(entry)
	local timeout = cfg().createTimeout
	local timer = task.delay(timeout, function()
		if entry.done or entry.waiter == nil then
			return
		end
		local reason = if lastProblem then " (" .. lastProblem .. ")" else ""
		if entry.kind == "create" then
			resumeWaiter(entry, {
				error = "OrderLog: no answer from the order server within " .. timeout .. " s" .. reason
					.. "; the order stays queued and will be logged once the server answers: do not create it again",
				pending = true,
				queued = true,
				handle = entry.handle,
			})
		else
			entry.abandoned = true
			entry.done = true
			resumeWaiter(entry, { error = "OrderLog: no answer from the order server within " .. timeout .. " s" .. reason })
		end
	end)
	local result: OrderResult
	while true do
		local got, answer = coroutine.yield()
		if got == token then
			result = answer
			break
		end
	end
	pcall(task.cancel, timer)
	return result
end

-- Dry run (Studio) ------------------------------------------------------------------------------
local function describe(p: any): string
	if type(p) == "table" then
		return tostring(p.Name) .. " (" .. tostring(p.UserId) .. ")"
	end
	return tostring(p)
end

local function dryRun(entry: Entry): OrderResult
	local body = entry.body
	if entry.kind == "create" then
		dryRunCounter += 1
		local id = "dry-run-" .. dryRunCounter
		local items = {}
		for _, item in body.items or {} do
			table.insert(items, if type(item) == "table" then item.name else item)
		end
		print(`[OrderLog dry run] create #{dryRunCounter} {id} for {describe(body.customer)}: {table.concat(items, ", ")}`)
		local handle = entry.handle :: OrderHandle
		handle.pending, handle.id, handle.order_number = false, id, dryRunCounter
		return { error = nil, id = id, order_number = dryRunCounter, status = body.status, dryRun = true, handle = handle }
	end
	local target = entry.target
	local id = if type(target) == "table" then target.id else target
	local change = if body.op == "priority" then `priority {tostring(body.priority)}` else `-> {tostring(body.status)}`
	print(`[OrderLog dry run] {tostring(id)} {change}` .. (if body.actor then " by " .. describe(body.actor) else ""))
	return { error = nil, id = id, status = body.status, dryRun = true }
end

-- Shutdown --------------------------------------------------------------------------------------
local function flush(timeout: number): number
	-- Send everything queued, within `timeout` seconds; what is left then is reported.
	closing = true
	closeDeadline = clock() + timeout
	wake()
	while (qHead <= qTail or current ~= nil) and clock() < (closeDeadline :: number) do
		task.wait(0.1)
	end
	closed = true
	local left = queued()
	while qHead <= qTail do
		finish(pop(), { error = "OrderLog: not sent before the server shut down" })
	end
	return left
end

-- Public API ----------------------------------------------------------------------------------
local function bearer(apiKey: any): any
	-- The Authorization header value: the only place a key ever goes.
	local keyKind = typeof(apiKey)
	if keyKind == "string" and apiKey ~= "" then
		return "Bearer " .. apiKey
	elseif keyKind == "Secret" then
		return apiKey:AddPrefix("Bearer ") -- the key itself stays unreadable
	end
	return nil
end

local function problemWithUrl(url: string, studio: boolean): string?
	-- A baseUrl that cannot work: no http(s) scheme anywhere; this machine on a live server.
	local scheme, host = url:match("^(%a+)://([^/:]+)")
	if scheme == nil or (scheme ~= "http" and scheme ~= "https") then
		return "baseUrl must start with https:// (got " .. url .. ")"
	end
	host = (host :: string):lower()
	local loopback = host == "localhost" or host:match("^127%.") ~= nil or host == "0.0.0.0" or host == "["
	if loopback and not studio then
		return "baseUrl "
			.. url
			.. " is this machine: a live Roblox server cannot reach it (set baseUrl to your orderlog server's https address)"
	end
	return nil
end

local closeBound = false

function OrderLog.setupAPI(apiKey: any, workspaceId: string, options: Options?)
	if type(workspaceId) ~= "string" or not workspaceId:match("^[%w_-]+$") then
		error("OrderLog.setupAPI: workspaceId must be the workspace id string", 2)
	end
	local merged: { [string]: any } = table.clone(DEFAULTS :: any)
	for name, value in (options or {}) :: { [string]: any } do
		if (DEFAULTS :: any)[name] == nil and name ~= "onError" then
			error("OrderLog.setupAPI: unknown option " .. tostring(name), 2)
		end
		merged[name] = value
	end
	merged.batchSize = math.clamp(merged.batchSize, 1, 100)
	local fresh = config == nil
	config = merged :: any
	local c = cfg()
	workspaceUrl = c.baseUrl:gsub("/+$", "") .. "/v1/workspaces/" .. workspaceId
	authorization = bearer(apiKey)
	refused, dryRunReason = nil, nil

	local studio = RunService:IsStudio()
	local urlProblem = if type(c.baseUrl) == "string" then problemWithUrl(c.baseUrl, studio) else "baseUrl must be a string"
	if c.dryRun then
		dryRunReason = "the dryRun option is on"
	elseif studio and not HttpService.HttpEnabled then
		dryRunReason = "HTTP requests are off (File > Experience Settings > Security > Allow HTTP Requests)"
	elseif studio and authorization == nil then
		dryRunReason = "no API key (add the Secret under File > Experience Settings > Security > Local Secrets)"
	elseif urlProblem ~= nil then
		refused = "OrderLog: " .. urlProblem
	elseif authorization == nil then
		refused = "OrderLog: the API key must be a non-empty string or a Secret (HttpService:GetSecret)"
	elseif not HttpService.HttpEnabled then
		refused = "OrderLog: HTTP requests are off: turn on File > Experience Settings > Security > Allow HTTP Requests and publish"
	end
	if dryRunReason ~= nil then
		warn(`OrderLog: DRY RUN: {dryRunReason}. Orders are printed here, not sent; their ids look like "dry-run-1".`)
	elseif refused ~= nil then
		warn(refused .. ". Every OrderLog call fails until this is fixed.")
	end

	if fresh then
		tokens, tokensAt = c.burst, clock()
	end
	keepBudget(c.budgetPerMinute) -- calling setupAPI again must not reset what was spent
	if workerThread == nil then
		startWorker()
	end
	if not closeBound then
		closeBound = true
		game:BindToClose(function()
			if qHead > qTail and current == nil then
				return -- nothing to send: stopping a play test should not wait
			end
			flush(cfg().shutdownTimeout)
		end)
	end
end

local function newHandle(): OrderHandle
	refCounter += 1
	local handle: OrderHandle = { ref = "c" .. refCounter, pending = true }
	handles[handle] = true
	return handle
end

local function createEntry(customer: any, actor: any, opts: CreateOptions?): (Entry?, string?)
	local o: any = opts or {}
	local ok, body = pcall(function(): any
		if customer == nil then
			error("customer is required", 0)
		end
		if type(o) ~= "table" then
			error("the third argument must be a table {items=, status=, metadata=, priority=}", 0)
		end
		if o.status ~= nil and type(o.status) ~= "string" then
			error("status must be a string", 0)
		end
		if o.metadata ~= nil and (type(o.metadata) ~= "table" or o.metadata[1] ~= nil) then
			error("metadata must be a dictionary", 0)
		end
		if o.priority ~= nil and not PRIORITIES[o.priority] then
			error('priority must be "normal" or "rush"', 0)
		end
		return {
			op = "create",
			customer = participant(customer, "customer", false),
			actor = participant(actor, "actor", true),
			items = itemList(o.items),
			status = o.status,
			metadata = o.metadata,
			priority = o.priority,
		}
	end)
	if ok then
		local problem = checkBody(body)
		if problem ~= nil then
			ok, body = false, problem
		end
	end
	if not ok then
		return nil, "OrderLog.createOrder: " .. tostring(body) .. "; nothing was sent"
	end
	local handle = newHandle()
	body.ref = handle.ref
	return { kind = "create", body = body, handle = handle, done = false, queuedAt = 0 }, nil
end

-- Yields until the server answers (at most createTimeout seconds):
-- {error = nil | message, id, order_number, status, order, handle}.
function OrderLog.createOrder(customer: Participant, actor: (Participant | number)?, opts: CreateOptions?): OrderResult
	local entry, problem = createEntry(customer, actor, opts)
	if entry == nil then
		report(problem :: string, { kind = "operation", op = "create" })
		return { error = problem }
	end
	if dryRunReason ~= nil then
		return dryRun(entry)
	end
	local refusal = notAccepted()
	if refusal ~= nil then
		finish(entry, { error = refusal })
		return { error = refusal }
	end
	local result = await(entry)
	result.handle = entry.handle
	return result
end

-- Does not yield: returns a handle at once, usable with every setX call before the id is known;
-- callback(res) runs when the server answered (handle.id and handle.order_number are set then).
function OrderLog.createOrderAsync(
	customer: Participant,
	actor: (Participant | number)?,
	opts: CreateOptions?,
	callback: ((OrderResult) -> ())?
): (OrderHandle?, string?)
	local entry, problem = createEntry(customer, actor, opts)
	if entry == nil then
		report(problem :: string, { kind = "operation", op = "create" })
		if callback ~= nil then
			task.spawn(callback, { error = problem })
		end
		return nil, problem
	end
	if dryRunReason ~= nil then
		local result = dryRun(entry)
		if callback ~= nil then
			task.spawn(callback, result)
		end
		return entry.handle, nil
	end
	entry.callback = callback
	local refusal = notAccepted()
	if refusal ~= nil then
		finish(entry, { error = refusal })
		return nil, refusal
	end
	push(entry)
	return entry.handle, nil
end

local function target(id: any, where: string): string | OrderHandle
	if type(id) == "table" and handles[id] then
		if id.id ~= nil then
			return id.id
		end
		return id
	end
	if isOrderId(id) then
		return id
	end
	error(where .. ": id must be an order id or a handle from createOrderAsync (got " .. typeof(id) .. ")", 0)
end

-- Queues an operation on an existing order (does not yield). `build` makes its entry and may
-- error with what is wrong with the call; `info` says what it was (for onError). Returns
-- {error = nil, id, handle?, queued = true} merged with `answer`, or {error = message}.
local function queueUpdate(where: string, build: () -> any, info: ErrorInfo, answer: { [string]: any }, callback: ((OrderResult) -> ())?): OrderResult
	local ok, entry = pcall(build)
	if ok then
		local problem = checkBody(entry.body)
		if problem ~= nil then
			ok, entry = false, where .. ": " .. problem
		end
	end
	if not ok then
		local problem = tostring(entry)
		local message = (if problem:sub(1, 8) == "OrderLog" then problem else where .. ": " .. problem) .. "; nothing was sent"
		report(message, info)
		return { error = message }
	end
	if dryRunReason ~= nil then
		return dryRun(entry)
	end
	entry.callback = callback
	local refusal = notAccepted()
	if refusal ~= nil then
		finish(entry, { error = refusal })
		return { error = refusal }
	end
	push(entry)
	local t = entry.target
	local handle = if type(t) == "table" then t else nil
	local result: { [string]: any } = { error = nil, id = if handle then handle.id else t, handle = handle, queued = true }
	for name, value in answer do
		result[name] = value
	end
	return result :: any
end

-- Queues a status change (does not yield). Returns {error = nil, id, status, queued = true}, or
-- {error = message} when the call itself is wrong; the server's answer goes to opts.callback
-- (and a refusal to onError).
function OrderLog.setStatus(id: string | OrderHandle, status: string, opts: StatusOptions?): OrderResult
	local o: any = opts or {}
	return queueUpdate("OrderLog.setStatus", function(): any
		if type(status) ~= "string" or status == "" then
			error("status must be a non-empty string", 0)
		end
		if o.reason ~= nil and type(o.reason) ~= "string" then
			error("reason must be a string", 0)
		end
		return {
			kind = "status",
			target = target(id, "OrderLog.setStatus"),
			body = {
				op = "status",
				status = status,
				actor = participant(o.actor, "actor", true),
				handed_to = participant(o.handedTo, "handedTo", false),
				reason = o.reason,
			},
			done = false,
			queuedAt = 0,
		}
	end, { kind = "operation", op = "status", status = status }, { status = status }, o.callback)
end

-- Queues a priority change, like setStatus: "rush" puts the ticket first on kitchen screens,
-- "normal" takes that back. An order in a final status keeps its priority (refused: onError).
function OrderLog.setPriority(id: string | OrderHandle, priority: Priority, opts: PriorityOptions?): OrderResult
	local o: any = opts or {}
	return queueUpdate("OrderLog.setPriority", function(): any
		if not PRIORITIES[priority :: any] then
			error('priority must be "normal" or "rush"', 0)
		end
		return {
			kind = "priority",
			target = target(id, "OrderLog.setPriority"),
			body = { op = "priority", priority = priority, actor = participant(o.actor, "actor", true) },
			done = false,
			queuedAt = 0,
		}
	end, { kind = "operation", op = "priority" }, {}, o.callback)
end

function OrderLog.setWaiting(id: string | OrderHandle, actor: (Participant | number)?): OrderResult
	return OrderLog.setStatus(id, "waiting_for_preparation", { actor = actor })
end

function OrderLog.setPreparing(id: string | OrderHandle, preparedBy: Participant?): OrderResult
	return OrderLog.setStatus(id, "preparing", { actor = preparedBy })
end

function OrderLog.setReprepare(id: string | OrderHandle, actor: (Participant | number)?): OrderResult
	return OrderLog.setStatus(id, "finding_new_colleague", { actor = actor })
end

function OrderLog.setReadyForPickup(id: string | OrderHandle, actor: (Participant | number)?): OrderResult
	return OrderLog.setStatus(id, "waiting_for_pickup", { actor = actor })
end

function OrderLog.setComplete(id: string | OrderHandle, actor: (Participant | number)?): OrderResult
	return OrderLog.setStatus(id, "completed", { actor = actor })
end

function OrderLog.setCancelled(id: string | OrderHandle, reason: string?, actor: (Participant | number)?): OrderResult
	return OrderLog.setStatus(id, "cancelled", { reason = reason, actor = actor })
end

function OrderLog.setHandedTo(id: string | OrderHandle, fromPlayer: Participant, toPlayer: Participant): OrderResult
	return OrderLog.setStatus(id, "handed_to", { actor = fromPlayer, handedTo = toPlayer })
end

-- Yields: the order with its history, after every update queued before this call was sent.
function OrderLog.getOrder(id: string | OrderHandle): OrderResult
	local ok, resolved = pcall(target, id, "OrderLog.getOrder")
	if not ok then
		return { error = tostring(resolved) }
	end
	if dryRunReason ~= nil then
		return { error = "OrderLog: dry run: orders are not sent, so none can be read", dryRun = true }
	end
	local refusal = notAccepted()
	if refusal ~= nil then
		return { error = refusal }
	end
	return await({ kind = "get", target = resolved, body = {}, done = false, queuedAt = 0 })
end

-- Sends what is queued now (yields, at most `timeout` seconds); returns how many were left.
function OrderLog.flush(timeout: number?): number
	local deadline = clock() + (timeout or 25)
	while (qHead <= qTail or current ~= nil) and clock() < deadline do
		if qHead <= qTail then
			queue[qHead].urgent = true
			wake()
		end
		task.wait(0.1)
	end
	return queued()
end

-- Counters for your own monitoring.
function OrderLog.getStats(): Stats
	return {
		requests = stats.requests,
		batches = stats.batches,
		operations = stats.operations,
		retries = stats.retries,
		failed = stats.failed,
		restarts = stats.restarts,
		queued = queued(),
		sending = if current then #current.entries else 0,
		dryRun = dryRunReason ~= nil,
	}
end

-- Long-polls the workspace's events (yields up to options.wait seconds, default 20, at most 30).
-- `after` is the cursor of the last answer; nil asks for a snapshot to start from. Answers the
-- decoded body {events = {...}, cursor = "...", orders = {...} (a snapshot), reset = reason},
-- or nil and a message (after one failed request: call again later). Events need a read key
-- (options.readKey, a string or a Secret); options.status filters ("waiting_for_pickup" or a
-- comma list). It shares the module's budget: a pickup board never starves the order updates.
function OrderLog.getEvents(after: string?, options: { wait: number?, readKey: any, status: string? }?): (any, string?)
	local o = options or {}
	if config == nil then
		return nil, "OrderLog: call setupAPI first"
	end
	if dryRunReason ~= nil then
		return nil, "OrderLog: dry run: no events to read"
	end
	if refused ~= nil then
		return nil, refused
	end
	local url = workspaceUrl .. "/events?wait=" .. tostring(o.wait or 20)
	if after ~= nil then
		url ..= "&after=" .. HttpService:UrlEncode(after)
	end
	if o.status ~= nil then
		url ..= "&status=" .. HttpService:UrlEncode(o.status)
	end
	local auth = nil
	if o.readKey ~= nil then
		auth = bearer(o.readKey)
		if auth == nil then
			return nil, "OrderLog.getEvents: readKey must be a string or a Secret"
		end
	end
	local outcome = attempt("GET", url, nil, nil, auth)
	if outcome.problem ~= nil then
		return nil, outcome.problem
	end
	local response = outcome.response
	if response.StatusCode ~= 200 then
		return nil, (errorMessage(response))
	end
	return decode(response.Body), nil
end

return OrderLog
