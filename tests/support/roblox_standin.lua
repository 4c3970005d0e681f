--[[
A stand-in for the Roblox globals clients/roblox/OrderLog.lua touches, for Lua 5.1 under lupa.

The task scheduler runs every script thread as a coroutine on a virtual clock (os.clock reads
it): task.wait(30) costs no real time, so budgets and backoffs are tested exactly. Python
supplies what Roblox's C++ does: HTTP (real requests), JSON (with Roblox's quirks), GUIDs.
Called with a table `py` of those functions; returns the scheduler.
]]

local py = ...

local sched = {
	now = 0,
	seq = 0,
	ready = {},
	sleeping = {},
	errors = {},
	warnings = {},
	closeHandlers = {},
	secrets = {},
	studio = false,
}
local scheduled = setmetatable({}, { __mode = "k" }) -- threads the scheduler may resume now

local function resume(co, ...)
	if coroutine.status(co) ~= "suspended" then
		table.insert(sched.errors, "resumed a thread that is " .. coroutine.status(co))
		return
	end
	local ok, err = coroutine.resume(co, ...)
	if not ok then
		-- Roblox prints a failed thread's error and carries on; the tests fail on any.
		table.insert(sched.errors, debug.traceback(co, tostring(err)))
	end
end

local function thread(f)
	if type(f) == "thread" then
		return f
	end
	return coroutine.create(f)
end

local function sleep(co, seconds, ...)
	sched.seq = sched.seq + 1
	table.insert(sched.sleeping, {
		wake = sched.now + (seconds or 0),
		seq = sched.seq,
		co = co,
		args = { ... },
		n = select("#", ...),
	})
end

task = {}

function task.spawn(f, ...)
	local co = thread(f)
	resume(co, ...)
	return co
end

function task.defer(f, ...)
	local co = thread(f)
	table.insert(sched.ready, { co = co, args = { ... }, n = select("#", ...) })
	return co
end

function task.delay(seconds, f, ...)
	local co = thread(f)
	sleep(co, seconds, ...)
	return co
end

function task.wait(seconds)
	seconds = math.max(seconds or 0, 1 / 60) -- Roblox resumes a wait on a later frame
	local co = coroutine.running()
	local start = sched.now
	sleep(co, seconds)
	scheduled[co] = "wait"
	coroutine.yield()
	if scheduled[co] ~= "woken" then
		-- Someone other than the scheduler resumed a waiting thread: a bug in the module.
		table.insert(sched.errors, "a thread in task.wait was resumed by another thread")
	end
	scheduled[co] = nil
	return sched.now - start
end

-- One scheduler step: the deferred threads, else the next sleeper (the clock jumps to it).
function sched.step()
	if #sched.ready > 0 then
		local ready = sched.ready
		sched.ready = {}
		for _, e in ipairs(ready) do
			resume(e.co, unpack(e.args, 1, e.n))
		end
		return true
	end
	local best = nil
	for i, e in ipairs(sched.sleeping) do
		local b = best and sched.sleeping[best]
		if b == nil or e.wake < b.wake or (e.wake == b.wake and e.seq < b.seq) then
			best = i
		end
	end
	if best == nil then
		return false
	end
	local e = table.remove(sched.sleeping, best)
	if e.wake > sched.now then
		sched.now = e.wake
	end
	if scheduled[e.co] == "wait" then
		scheduled[e.co] = "woken"
	end
	resume(e.co, unpack(e.args, 1, e.n))
	return true
end

-- Runs `f` as a script thread; returns a record whose `done` and `results` fill in when it ends.
function sched.run(f)
	local record = { done = false }
	task.spawn(function()
		record.results = { f() }
		record.done = true
	end)
	return record
end

os.clock = function()
	return sched.now
end

function warn(...)
	local parts = {}
	for i = 1, select("#", ...) do
		parts[i] = tostring((select(i, ...)))
	end
	table.insert(sched.warnings, table.concat(parts, " "))
end

-- Secrets: opaque values whose content only the HTTP layer reads.
local secretValues = setmetatable({}, { __mode = "k" })
local Secret = {}
Secret.__index = Secret
Secret.__tostring = function()
	return "Secret"
end
local function newSecret(value)
	local s = setmetatable({}, Secret)
	secretValues[s] = value
	return s
end
function Secret:AddPrefix(prefix)
	return newSecret(prefix .. secretValues[self])
end
function Secret:AddSuffix(suffix)
	return newSecret(secretValues[self] .. suffix)
end

function typeof(value)
	if secretValues[value] ~= nil then
		return "Secret"
	end
	if type(value) == "table" and value.ClassName ~= nil then
		return "Instance"
	end
	return type(value)
end

local HttpService = {}

function HttpService:JSONEncode(value)
	return py.encode(value)
end

function HttpService:JSONDecode(text)
	return py.decode(text)
end

function HttpService:GenerateGUID(wrap)
	local guid = py.guid()
	if wrap == false then
		return guid
	end
	return "{" .. guid .. "}"
end

function HttpService:UrlEncode(text)
	return py.urlencode(text)
end

function HttpService:GetSecret(name)
	local value = sched.secrets[name]
	if value == nil then
		error("Can't find secret with given key", 2)
	end
	return newSecret(value)
end

function HttpService:RequestAsync(req)
	local headers = {}
	for name, value in pairs(req.Headers or {}) do
		if secretValues[value] ~= nil then
			headers[name] = secretValues[value]
		elseif type(value) == "string" then
			headers[name] = value
		else
			error("Header " .. tostring(name) .. " must be a string", 2)
		end
	end
	if type(req.Url) ~= "string" then
		error("Url must be a string", 2)
	end
	local ok, status, message, responseHeaders, body = py.request(sched.now, req.Method or "GET", req.Url, headers, req.Body)
	if not ok then
		error(status, 0) -- e.g. "HttpError: ConnectFail", as Roblox throws
	end
	return {
		Success = status >= 200 and status < 300,
		StatusCode = status,
		StatusMessage = message,
		Headers = responseHeaders,
		Body = body,
	}
end

local RunService = {}
function RunService:IsStudio()
	return sched.studio
end

local Players = { list = {} }
function Players:GetPlayers()
	return self.list
end

function sched.player(userId, name, displayName)
	local p = { UserId = userId, Name = name, DisplayName = displayName, ClassName = "Player" }
	table.insert(Players.list, p)
	return p
end

local services = { HttpService = HttpService, RunService = RunService, Players = Players }

game = {}
function game:GetService(name)
	local service = services[name]
	if service == nil then
		error("no stand-in for service " .. tostring(name), 2)
	end
	return service
end
function game:BindToClose(f)
	table.insert(sched.closeHandlers, f)
end

-- The game server closes: every BindToClose function runs in its own thread.
function sched.close()
	local records = {}
	for i, f in ipairs(sched.closeHandlers) do
		records[i] = sched.run(f)
	end
	return records
end

return sched
