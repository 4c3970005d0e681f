--[[
OrderLog: the orderlog client for Roblox game servers (a ModuleScript in ServerScriptService).

A drop-in for the Hyra Order Logging module: replace `require(15254660066)` with
`require(path.to.OrderLog)` and keep every call. See README.md beside this file.

How it works, and why:
- One queue and one worker per game server. Every write is queued and sent in batches through
  POST /batch (at most `batchSize` operations, at most `maxBatchBytes` of JSON), in queue order,
  one request at a time, so the updates of one order always arrive in the order they were made.
- A budget that is never exceeded: at most `budgetPerMinute` requests in any 60 s window (a log
  of the last send times), smoothed by a token bucket of `burst` tokens. Roblox allows 500
  requests a minute per server for the whole game; the module keeps to its own share.
- A batch is encoded once, with one Idempotency-Key; every retry of it sends the very same
  bytes with the same key, so a retry after a timeout is replayed by the server, never applied
  twice. Network errors, 5xx and 429 are retried with exponential backoff and jitter (at least
  Retry-After); other 4xx are not retried and are reported (res.error, onError).
- Written in the subset of Luau that is also Lua 5.1 (tested under Lua 5.1): no type
  annotations, no compound assignment, no string interpolation, no `continue`, and nothing
  yields inside pcall.
]]

local HttpService = game:GetService("HttpService")
local RunService = game:GetService("RunService")

-- Where your orderlog server is. Set it here once, or pass {baseUrl = ...} to setupAPI.
local DEFAULT_BASE_URL = "http://localhost:8000"

local DEFAULTS = {
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
	createTimeout = 30, -- seconds createOrder/getOrder wait to be sent before giving up (false: wait)
	shutdownTimeout = 25, -- seconds BindToClose spends flushing (Roblox allows 30 in total)
	onError = nil, -- function(message, info) called for every operation that fails
}

local SYSTEM_ACTORS = { [1] = true, [2] = true, [3] = true, [4] = true }
local WINDOW = 60

local OrderLog = {}
OrderLog.System = { POS = 1, Kiosk = 2, MobileOrdering = 3, NPC = 4 }

-- Everything below is per server: one queue, one worker, one budget.
local config = nil
local authorization = nil -- the "Bearer <key>" header value (a string or a Secret); nowhere else
local workspaceUrl = nil
local clock = os.clock

local queue = {} -- entries, from qHead to qTail
local qHead, qTail = 1, 0
local workerThread = nil
local workerIdle = false
local closing = false -- BindToClose is flushing: send at once, no lingering
local closed = false -- the flush is over: nothing more can be sent
local closeDeadline = nil
local inFlight = 0 -- operations in the request being sent
local lingering = false
local refCounter = 0
local handles = setmetatable({}, { __mode = "k" })

local stats = { requests = 0, batches = 0, operations = 0, retries = 0, failed = 0 }

-- The budget ----------------------------------------------------------------------------------
local sendTimes = {} -- ring of the last `budgetPerMinute` send times
local sendIndex = 0
local tokens = 0
local tokensAt = 0

local function budgetDelay(now)
	local limit = config.budgetPerMinute
	local wait = 0
	local oldest = sendTimes[(sendIndex % limit) + 1]
	if oldest ~= nil and now - oldest < WINDOW then
		wait = WINDOW - (now - oldest)
	end
	local rate = limit / WINDOW
	local available = math.min(config.burst, tokens + (now - tokensAt) * rate)
	if available < 1 then
		wait = math.max(wait, (1 - available) / rate)
	end
	return wait
end

local function keepBudget(limit)
	-- The ring for a (new) limit, with the latest send times of the old one.
	local times = {}
	for _, at in pairs(sendTimes) do
		times[#times + 1] = at
	end
	table.sort(times)
	sendTimes, sendIndex = {}, 0
	for i = math.max(1, #times - limit + 1), #times do
		sendIndex = sendIndex + 1
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
			local rate = config.budgetPerMinute / WINDOW
			tokens = math.min(config.burst, tokens + (now - tokensAt) * rate) - 1
			tokensAt = now
			sendIndex = (sendIndex % config.budgetPerMinute) + 1
			sendTimes[sendIndex] = now
			stats.requests = stats.requests + 1
			return
		end
		task.wait(wait)
	end
end

-- Small helpers -------------------------------------------------------------------------------
local function kind(value)
	if typeof ~= nil then
		return typeof(value)
	end
	return type(value)
end

local function report(message, info)
	stats.failed = stats.failed + 1
	local onError = config and config.onError
	if onError then
		task.spawn(onError, message, info)
	else
		message = tostring(message)
		if message:sub(1, 8) ~= "OrderLog" then
			message = "OrderLog: " .. message
		end
		warn(message)
	end
end

local function field(object, name)
	-- A missing property of an Instance throws; of a table it is nil.
	local ok, value = pcall(function()
		return object[name]
	end)
	if ok then
		return value
	end
	return nil
end

local function participant(value, where, allowSystem)
	if value == nil then
		return nil
	end
	if type(value) == "number" then
		if allowSystem and SYSTEM_ACTORS[value] then
			return value
		end
		error(where .. " must be a Player" .. (allowSystem and " or a system id 1-4" or ""), 0)
	end
	local userId = field(value, "UserId")
	local name = field(value, "Name")
	if type(userId) ~= "number" and type(userId) ~= "string" then
		error(where .. " must be a Player (UserId, Name, DisplayName)", 0)
	end
	if type(name) ~= "string" or name == "" then
		error(where .. ".Name must be a non-empty string", 0)
	end
	if type(userId) == "number" and userId <= 0 then
		-- Studio's test players have ids <= 0; the server takes them as string ids.
		userId = tostring(userId)
	end
	local out = { UserId = userId, Name = name }
	local display = field(value, "DisplayName")
	if type(display) == "string" and display ~= "" then
		out.DisplayName = display
	end
	return out
end

local function itemList(items)
	if items == nil then
		return nil
	end
	if type(items) ~= "table" then
		error("items must be an array", 0)
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
		error("items must be an array, not a dictionary", 0)
	end
	return out -- an empty table encodes as [], which the server takes as no items
end

local function checkMetadata(metadata)
	if metadata == nil then
		return nil
	end
	if type(metadata) ~= "table" or metadata[1] ~= nil then
		error("metadata must be a dictionary", 0)
	end
	return metadata
end

local function isOrderId(id)
	return type(id) == "string" and #id == 24 and id:match("^[0-9a-f]+$") ~= nil
end

local function header(response, name)
	local headers = response.Headers
	if type(headers) ~= "table" then
		return nil
	end
	name = name:lower()
	for key, value in pairs(headers) do
		if type(key) == "string" and key:lower() == name then
			return value
		end
	end
	return nil
end

local function decode(body)
	local ok, value = pcall(HttpService.JSONDecode, HttpService, body or "")
	if ok then
		return value
	end
	return nil
end

local function errorMessage(response)
	local body = decode(response.Body)
	if type(body) == "table" and type(body.message) == "string" then
		return body.message, body
	end
	return "HTTP " .. tostring(response.StatusCode) .. " " .. tostring(response.StatusMessage), body
end

-- The queue -----------------------------------------------------------------------------------
local function queued()
	return qTail - qHead + 1
end

local function wake()
	-- Deferred, never inline: the caller reaches its own yield before the worker runs.
	if workerThread ~= nil and workerIdle then
		workerIdle = false
		task.defer(workerThread)
	end
end

local function push(entry)
	qTail = qTail + 1
	queue[qTail] = entry
	entry.queuedAt = clock()
	if entry.urgent then
		queue[qHead].urgent = true -- everything before it goes first anyway
	end
	if entry.urgent or closing or not lingering or queued() >= config.batchSize then
		wake()
	end
end

local function requeue(entries)
	-- Back to the front of the queue, in order: nothing of them was written.
	for i = #entries, 1, -1 do
		entries[i].sending = nil
		qHead = qHead - 1
		queue[qHead] = entries[i]
	end
end

local function pop()
	local entry = queue[qHead]
	queue[qHead] = nil
	qHead = qHead + 1
	if qHead > qTail then
		qHead, qTail = 1, 0
	end
	return entry
end

local function finish(entry, result)
	-- Hand an operation's result to whoever waits for it: a yielding call, a callback, onError.
	if entry.done then
		return
	end
	entry.done = true
	if entry.handle ~= nil then
		local handle = entry.handle
		handle.pending = false
		handle.error = result.error
		handle.id = result.id
		handle.order_number = result.order_number
	end
	if result.error ~= nil then
		report(result.error, {
			op = entry.body.op or "get",
			status = entry.body.status,
			id = entry.body.id or result.id,
			statusCode = result.statusCode,
		})
	end
	if entry.waiter ~= nil then
		task.spawn(entry.waiter, result)
	end
	if entry.callback ~= nil then
		task.spawn(entry.callback, result)
	end
end

local function enqueue(entry)
	if config == nil then
		return { error = "OrderLog: call setupAPI(apiKey, workspaceId) first" }
	end
	if closed then
		return { error = "OrderLog: the server has shut down" }
	end
	if queued() >= config.maxQueue then
		return { error = "OrderLog: the queue is full (" .. config.maxQueue .. " operations)" }
	end
	push(entry)
	return nil
end

local function await(entry)
	-- Yield the calling thread until the worker answers, or until createTimeout passes.
	local thread = coroutine.running()
	if thread == nil then
		error("OrderLog: call this from a script thread (it yields)", 2)
	end
	entry.waiter = thread
	entry.urgent = true
	local refused = enqueue(entry)
	if refused ~= nil then
		entry.waiter = nil
		finish(entry, refused)
		return refused
	end
	if config.createTimeout then
		task.delay(config.createTimeout, function()
			-- Only an operation still queued is given up: it was never sent, so the caller may
			-- safely try again. One being sent has to wait for its answer (it may be applied).
			if not entry.done and not entry.sending then
				finish(entry, {
					error = "OrderLog: not sent within " .. config.createTimeout .. " s (server unreachable?); nothing was done",
				})
			end
		end)
	end
	return coroutine.yield()
end

-- Sending -------------------------------------------------------------------------------------
local function backoff(attempt, retryAfter)
	local delay = math.min(config.retryMax, config.retryBase * 2 ^ (attempt - 1))
	delay = delay * (0.5 + math.random() * 0.5) -- jitter: servers restarting are not stampeded
	if retryAfter ~= nil and retryAfter > delay then
		delay = retryAfter
	end
	return delay
end

local function isPermanent(message)
	-- Errors RequestAsync throws that no retry can mend: HTTP requests disabled in the game's
	-- settings, a URL Roblox refuses.
	message = message:lower()
	return message:find("not enabled", 1, true) ~= nil
		or message:find("trust check", 1, true) ~= nil
		or message:find("invalid url", 1, true) ~= nil
end

local TRANSIENT = { [429] = true, [502] = true, [503] = true, [504] = true }
local MAX_SERVER_ERROR_RETRIES = 3

local function sleep(seconds)
	-- A backoff, cut short (false) when the server starts shutting down and it would outlast
	-- the flush: what cannot be sent is then reported at once.
	local wakeAt = clock() + seconds
	while clock() < wakeAt do
		if closeDeadline ~= nil and wakeAt > closeDeadline then
			return false
		end
		task.wait(math.min(1, wakeAt - clock()))
	end
	return true
end

local function request(method, url, body, idempotencyKey, auth)
	-- One logical request, retried until it is answered for good. Returns the response, or
	-- nil and a message when it was given up. The same table (same bytes, same key) is resent.
	-- Unavailability (network errors, 429, 502-504) is retried up to maxRetries (default: for
	-- ever, so an outage loses nothing); another 5xx at most 3 times, since the same bytes
	-- would likely fail the same way and block the queue.
	local req = {
		Url = url,
		Method = method,
		Headers = { Authorization = auth or authorization },
	}
	if body ~= nil then
		req.Body = body
		req.Headers["Content-Type"] = "application/json"
		req.Headers["Idempotency-Key"] = idempotencyKey
	end
	local attempt, serverErrors = 0, 0
	while true do
		takeBudget()
		local ok, response = pcall(HttpService.RequestAsync, HttpService, req)
		local problem, retryAfter
		if not ok and isPermanent(tostring(response)) then
			return nil, tostring(response)
		elseif not ok then
			problem = "network error: " .. tostring(response)
		elseif TRANSIENT[response.StatusCode] or response.StatusCode >= 500 then
			problem = errorMessage(response)
			retryAfter = tonumber(header(response, "Retry-After"))
			if not TRANSIENT[response.StatusCode] then
				serverErrors = serverErrors + 1
			end
		else
			return response
		end
		attempt = attempt + 1
		if attempt > config.maxRetries or serverErrors > MAX_SERVER_ERROR_RETRIES then
			return nil, problem
		end
		stats.retries = stats.retries + 1
		if not sleep(backoff(attempt, retryAfter)) then
			return nil, problem .. " (the server shut down before it could be sent)"
		end
	end
end

local function formBatch(limit)
	-- Take a prefix of the queue that fits one request; resolve each op's order now (an id, or
	-- the ref of a create in this batch). The result is frozen: its retries resend these bytes.
	local entries, parts, size = {}, {}, 0
	local inBatch = {}
	while qHead <= qTail and #entries < limit do
		local entry = queue[qHead]
		if entry.kind == "get" then
			break
		end
		local body = entry.body
		local problem = nil
		if entry.done then
			problem = "given up" -- a yielding call that timed out before it was sent
		elseif entry.kind == "status" and entry.handle == nil then
			local target = entry.target
			body.id, body.order_ref = nil, nil
			if type(target) == "string" then
				body.id = target
			elseif target.id ~= nil then
				body.id = target.id
			elseif inBatch[target.ref] then
				body.order_ref = target.ref
			else
				problem = "OrderLog: the order was not created: " .. tostring(target.error or "unknown")
			end
		end
		local encoded = nil
		if problem == nil then
			-- A value JSON cannot hold (a function, an Instance in metadata) fails this op alone:
			-- the worker must never die.
			local ok, result = pcall(HttpService.JSONEncode, HttpService, body)
			if ok then
				encoded = result
			else
				problem = "OrderLog: cannot encode the operation as JSON: " .. tostring(result)
			end
		end
		if problem ~= nil then
			pop()
			finish(entry, { error = problem }) -- no-op when already done
		else
			if #entries > 0 and size + #encoded + 1 > config.maxBatchBytes then
				break
			end
			pop()
			entry.sending = true
			size = size + #encoded + 1
			entries[#entries + 1] = entry
			parts[#parts + 1] = encoded
			if entry.handle ~= nil then
				inBatch[entry.handle.ref] = true
			end
		end
	end
	if #entries == 0 then
		return nil
	end
	return entries, '{"operations":[' .. table.concat(parts, ",") .. "]}"
end

local function createResult(r)
	return { error = nil, id = r.id, order_number = r.order_number, order = r.order, changed = r.changed }
end

local function sendBatch(limit)
	local entries, body = formBatch(limit)
	if entries == nil then
		return nil
	end
	inFlight = #entries
	local key = HttpService:GenerateGUID(false)
	local response, problem = request("POST", workspaceUrl .. "/batch", body, key)
	inFlight = 0
	stats.batches = stats.batches + 1
	if response == nil then
		for _, entry in ipairs(entries) do
			finish(entry, { error = "OrderLog: " .. problem })
		end
		return nil
	end
	local decoded = decode(response.Body)
	if response.StatusCode == 200 and type(decoded) == "table" and type(decoded.results) == "table" then
		stats.operations = stats.operations + #entries
		for i, entry in ipairs(entries) do
			local r = decoded.results[i] or {}
			if r.ok then
				finish(entry, createResult(r))
			else
				finish(entry, { error = r.message or "OrderLog: no result", statusCode = r.statusCode })
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
		-- One bad operation: report it and resend the others (a new batch, a new key).
		local rest = {}
		for i, entry in ipairs(entries) do
			if i == bad + 1 then
				-- "operations[3].status: unknown status" -> "status: unknown status"
				local own = message:gsub("^operations%[%d+%]%.?", "")
				finish(entry, { error = own, statusCode = 422 })
			else
				rest[#rest + 1] = entry
			end
		end
		requeue(rest)
		return nil
	end
	if response.StatusCode == 413 and #entries > 1 then
		requeue(entries)
		return math.max(1, math.floor(#entries / 2)) -- the next batch is half as large
	end
	for _, entry in ipairs(entries) do
		finish(entry, { error = message, statusCode = response.StatusCode })
	end
	return nil
end

local function sendGet(entry)
	pop()
	if entry.done then
		return -- timed out before it was sent
	end
	entry.sending = true
	inFlight = 1
	local response, problem = request("GET", workspaceUrl .. "/orders/" .. entry.target)
	inFlight = 0
	if response == nil then
		finish(entry, { error = "OrderLog: " .. problem })
	elseif response.StatusCode == 200 then
		local order = decode(response.Body) or {}
		finish(entry, { error = nil, id = order.id, order_number = order.order_number, order = order })
	else
		local message = errorMessage(response)
		finish(entry, { error = message, statusCode = response.StatusCode })
	end
end

local function resolveGet(entry)
	-- A get of a handle names its order once the create before it was answered.
	local target = entry.target
	if type(target) == "table" then
		if target.id == nil then
			pop()
			finish(entry, { error = "OrderLog: the order was not created: " .. tostring(target.error) })
			return false
		end
		entry.target = target.id
	end
	return true
end

local function worker()
	local limit = nil
	while true do
		if qHead > qTail then
			workerIdle = true
			coroutine.yield() -- woken by push()
		else
			local head = queue[qHead]
			local age = clock() - head.queuedAt
			local urgent = closing or head.urgent or queued() >= config.batchSize
			if not urgent and age < config.flushInterval then
				-- Let a lone update gather company; an urgent push or the timer ends the wait.
				lingering = true
				workerIdle = true
				task.delay(config.flushInterval - age, wake)
				coroutine.yield()
				lingering = false
			elseif head.kind == "get" then
				if resolveGet(head) then
					sendGet(head)
				end
			else
				limit = sendBatch(limit or config.batchSize)
			end
		end
	end
end

-- Shutdown --------------------------------------------------------------------------------------
local function flush(timeout)
	-- Send everything queued, within `timeout` seconds; what is left then is reported.
	closing = true
	closeDeadline = clock() + timeout
	wake()
	while (qHead <= qTail or inFlight > 0) and clock() < closeDeadline do
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
local function bearer(apiKey)
	-- The Authorization header value: the only place a key ever goes.
	local keyKind = kind(apiKey)
	if keyKind == "string" and apiKey ~= "" then
		return "Bearer " .. apiKey
	elseif keyKind == "Secret" or (keyKind ~= "string" and apiKey ~= nil and field(apiKey, "AddPrefix") ~= nil) then
		return apiKey:AddPrefix("Bearer ") -- the key itself stays unreadable
	end
	error("OrderLog: the API key must be a non-empty string or a Secret (HttpService:GetSecret)", 3)
end

function OrderLog.setupAPI(apiKey, workspaceId, options)
	authorization = bearer(apiKey)
	if type(workspaceId) ~= "string" or not workspaceId:match("^[%w_-]+$") then
		error("OrderLog.setupAPI: workspaceId must be the workspace id string", 2)
	end
	local merged = {}
	for name, value in pairs(DEFAULTS) do
		merged[name] = value
	end
	for name, value in pairs(options or {}) do
		if DEFAULTS[name] == nil and name ~= "onError" then
			error("OrderLog.setupAPI: unknown option " .. tostring(name), 2)
		end
		merged[name] = value
	end
	merged.batchSize = math.max(1, math.min(100, merged.batchSize))
	config = merged
	workspaceUrl = config.baseUrl:gsub("/+$", "") .. "/v1/workspaces/" .. workspaceId
	if workerThread == nil then
		tokens, tokensAt = config.burst, clock()
	end
	keepBudget(config.budgetPerMinute) -- calling setupAPI again must not reset what was spent
	if workerThread == nil then
		workerThread = task.spawn(function()
			workerThread = coroutine.running()
			worker()
		end)
		game:BindToClose(function()
			if RunService:IsStudio() and qHead > qTail and inFlight == 0 then
				return -- stopping a play test should not wait for nothing
			end
			flush(config.shutdownTimeout)
		end)
	end
end

local function newHandle()
	refCounter = refCounter + 1
	local handle = { ref = "c" .. refCounter, pending = true }
	handles[handle] = true
	return handle
end

local function createEntry(customer, actor, opts)
	opts = opts or {}
	local ok, body = pcall(function()
		if opts.status ~= nil and type(opts.status) ~= "string" then
			error("status must be a string", 0)
		end
		return {
			op = "create",
			customer = participant(customer, "customer", false),
			actor = participant(actor, "actor", true),
			items = itemList(opts.items),
			status = opts.status,
			metadata = checkMetadata(opts.metadata),
		}
	end)
	if not ok then
		return nil, "OrderLog.createOrder: " .. tostring(body)
	end
	if customer == nil then
		return nil, "OrderLog.createOrder: customer is required"
	end
	local handle = newHandle()
	body.ref = handle.ref
	return { kind = "create", body = body, handle = handle }
end

-- Yields until the server answers: {error = nil | message, id, order_number, order, handle}.
function OrderLog.createOrder(customer, actor, opts)
	local entry, problem = createEntry(customer, actor, opts)
	if entry == nil then
		report(problem, { op = "create" })
		return { error = problem }
	end
	local result = await(entry)
	result.handle = entry.handle
	return result
end

-- Does not yield: returns a handle at once, usable with every setX call before the id is known;
-- callback(res) runs when the server answered (handle.id and handle.order_number are set then).
function OrderLog.createOrderAsync(customer, actor, opts, callback)
	local entry, problem = createEntry(customer, actor, opts)
	if entry == nil then
		report(problem, { op = "create" })
		if callback ~= nil then
			task.spawn(callback, { error = problem })
		end
		return nil, problem
	end
	entry.callback = callback
	local refused = enqueue(entry)
	if refused ~= nil then
		finish(entry, refused)
		return nil, refused.error
	end
	return entry.handle
end

local function target(id, where)
	if type(id) == "table" and handles[id] then
		if id.id ~= nil then
			return id.id
		end
		return id
	end
	if isOrderId(id) then
		return id
	end
	error(where .. ": id must be an order id or a handle from createOrderAsync", 0)
end

-- Queues a status change (does not yield). Returns true, or false and a message.
function OrderLog.setStatus(id, status, opts)
	opts = opts or {}
	local ok, entry = pcall(function()
		if type(status) ~= "string" or status == "" then
			error("status must be a non-empty string", 0)
		end
		if opts.reason ~= nil and type(opts.reason) ~= "string" then
			error("reason must be a string", 0)
		end
		return {
			kind = "status",
			target = target(id, "OrderLog.setStatus"),
			body = {
				op = "status",
				status = status,
				actor = participant(opts.actor, "actor", true),
				handed_to = participant(opts.handedTo, "handedTo", false),
				reason = opts.reason,
			},
		}
	end)
	if not ok then
		report("OrderLog: " .. tostring(entry), { op = "status", status = status })
		return false, entry
	end
	entry.callback = opts.callback
	local refused = enqueue(entry)
	if refused ~= nil then
		finish(entry, refused)
		return false, refused.error
	end
	return true
end

function OrderLog.setWaiting(id, actor)
	return OrderLog.setStatus(id, "waiting_for_preparation", { actor = actor })
end

function OrderLog.setPreparing(id, preparedBy)
	return OrderLog.setStatus(id, "preparing", { actor = preparedBy })
end

function OrderLog.setReprepare(id, actor)
	return OrderLog.setStatus(id, "finding_new_colleague", { actor = actor })
end

function OrderLog.setReadyForPickup(id, actor)
	return OrderLog.setStatus(id, "waiting_for_pickup", { actor = actor })
end

function OrderLog.setComplete(id, actor)
	return OrderLog.setStatus(id, "completed", { actor = actor })
end

function OrderLog.setCancelled(id, reason, actor)
	return OrderLog.setStatus(id, "cancelled", { reason = reason, actor = actor })
end

function OrderLog.setHandedTo(id, fromPlayer, toPlayer)
	return OrderLog.setStatus(id, "handed_to", { actor = fromPlayer, handedTo = toPlayer })
end

-- Yields: the order with its history, after every update queued before this call was sent.
function OrderLog.getOrder(id)
	local ok, resolved = pcall(target, id, "OrderLog.getOrder")
	if not ok then
		return { error = tostring(resolved) }
	end
	return await({ kind = "get", target = resolved, body = {} })
end

-- Sends what is queued now (yields, at most `timeout` seconds); returns how many were left.
function OrderLog.flush(timeout)
	local deadline = clock() + (timeout or 25)
	while (qHead <= qTail or inFlight > 0) and clock() < deadline do
		if qHead <= qTail then
			queue[qHead].urgent = true
			wake()
		end
		task.wait(0.1)
	end
	return queued()
end

-- Counters for your own monitoring: requests sent, batches, operations sent, retries, failed
-- operations, and the operations queued and being sent now.
function OrderLog.getStats()
	local out = { queued = queued(), sending = inFlight }
	for name, value in pairs(stats) do
		out[name] = value
	end
	return out
end

-- Long-polls the workspace's events (yields up to options.wait seconds, default 20, at most 30).
-- `after` is the cursor of the last answer; nil asks for a snapshot to start from. Answers the
-- decoded body {events = {...}, cursor = "...", orders = {...} (a snapshot), reset = reason},
-- or nil and a message. Events need a read key (a write key cannot read them): options.readKey,
-- a string or a Secret; options.status filters ("waiting_for_pickup" or a comma list).
-- It shares the module's budget and retries: a pickup board never starves the order updates.
function OrderLog.getEvents(after, options)
	options = options or {}
	if config == nil then
		return nil, "OrderLog: call setupAPI first"
	end
	local url = workspaceUrl .. "/events?wait=" .. tostring(options.wait or 20)
	if after ~= nil then
		url = url .. "&after=" .. HttpService:UrlEncode(after)
	end
	if options.status ~= nil then
		url = url .. "&status=" .. HttpService:UrlEncode(options.status)
	end
	local auth = nil
	if options.readKey ~= nil then
		auth = bearer(options.readKey)
	end
	local response, problem = request("GET", url, nil, nil, auth)
	if response == nil then
		return nil, problem
	end
	if response.StatusCode ~= 200 then
		return nil, (errorMessage(response))
	end
	return decode(response.Body)
end

return OrderLog
