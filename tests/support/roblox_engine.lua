--!nocheck
--[[
A stand-in for the Roblox engine, for running clients/roblox/ in the Luau VM (pluau). Written
from Roblox's documentation (creator-docs: HttpService, task, coroutine, DataModel, Secrets,
Actor); where the docs are silent it takes the stricter reading, so the module cannot lean on
a friendlier engine than the real one.

- Time is virtual: os.clock(), tick() and time() read `engine.now`, which jumps to the next
  thing due, so an hour of outage runs in a second. task.wait and task.delay resume on a later
  Heartbeat (1/60 s at least), task.defer at the end of the current resumption.
- Threads follow Roblox's rules: a bare coroutine.yield() is resumed by no one; task.spawn of a
  thread that is not suspended throws "cannot spawn non-suspended coroutine with arguments"
  when given arguments; task.cancel closes a thread for good; an error in a thread the engine
  resumed is printed (and recorded) without touching the one that spawned it.
- HttpService:RequestAsync yields the calling thread until the answer arrives, and throws on a
  network failure, with HTTP off (HttpEnabled is false until a test turns it on), on a URL
  without http(s), a Secret used for another domain, or past 500 requests a minute per server.
  Python (tests/roblox_engine.py) performs the request: the real orderlog server, or a fault.
- JSONEncode as documented: an empty table is [], NaN and infinity are written (nan, inf),
  string keys of a table with array items are dropped, cycles and non-array numeric keys throw.
- GetSecret throws "Can't find secret with given key" in Studio unless the secret is a local
  one, and on a live server unless the game has it; a Secret prints as Secret(name).
- BindToClose functions run in parallel when the server closes; after 30 s it is gone.
- Instances are userdata (typeof "Instance"); reading a member that does not exist throws.

Called with `py` (what Roblox's C++ does: HTTP, JSONDecode, GUIDs, compiling scripts);
returns the engine.
]]

local py = ...

local FRAME = 1 / 60

local engine = {
	now = 0,
	seq = 0,
	studio = false,
	httpEnabled = false,
	secrets = {}, -- name -> {value =, domain =}: the game's secrets store (live servers)
	localSecrets = {}, -- the same, for Studio (File > Experience Settings > Security)
	output = {}, -- {kind = "print" | "warn" | "error", text =, at =}
	errors = {}, -- errors in threads, with their traceback
	requests = {}, -- every RequestAsync made: {method, url, headers, body, at}
	httpLimit = 500, -- per game server, per minute (HttpService:RequestAsync's documented limit)
	overLimit = 0,
	closeHandlers = {},
	shutDown = false,
}

-- The scheduler ----------------------------------------------------------------------------------
local deferred = {} -- {co, args, n}
local timers = {} -- {at, seq, co, args, n}
local cancelled = setmetatable({}, { __mode = "k" })

local function record(kind, text)
	table.insert(engine.output, { kind = kind, text = text, at = engine.now })
end

local function resume(co, ...)
	if cancelled[co] or coroutine.status(co) ~= "suspended" then
		return
	end
	local ok, err = coroutine.resume(co, ...)
	if not ok then
		local trace = debug.traceback(co, tostring(err))
		table.insert(engine.errors, trace)
		record("error", tostring(err))
	end
end

engine.threads = setmetatable({}, { __mode = "k" }) -- thread -> "source:line" of its function

local function toThread(f)
	if type(f) == "thread" then
		return f
	elseif type(f) == "function" then
		local co = coroutine.create(f)
		local source, line = debug.info(f, "sl")
		engine.threads[co] = tostring(source) .. ":" .. tostring(line)
		return co
	end
	error("invalid argument #1 (function or thread expected, got " .. typeof(f) .. ")", 3)
end

local function schedule(co, at, ...)
	engine.seq += 1
	table.insert(timers, { at = at, seq = engine.seq, co = co, args = table.pack(...) })
end

task = {}

function task.spawn(f, ...)
	local co = toThread(f)
	local status = coroutine.status(co)
	if status ~= "suspended" then
		if select("#", ...) > 0 then
			error("cannot spawn non-suspended coroutine with arguments", 2)
		end
		error("cannot resume " .. status .. " coroutine", 2)
	end
	resume(co, ...)
	return co
end

function task.defer(f, ...)
	local co = toThread(f)
	table.insert(deferred, { co = co, args = table.pack(...) })
	return co
end

function task.delay(seconds, f, ...)
	local co = toThread(f)
	schedule(co, engine.now + math.max(tonumber(seconds) or 0, FRAME), ...)
	return co
end

local inWait = setmetatable({}, { __mode = "k" }) -- thread -> the token its task.wait expects

function task.wait(seconds)
	local co = coroutine.running()
	local start = engine.now
	local token = {}
	inWait[co] = token
	schedule(co, engine.now + math.max(tonumber(seconds) or 0, FRAME), token)
	local got = coroutine.yield()
	if got ~= token then
		-- Roblox would resume it again when the wait ends, wherever it waits then: a bug.
		table.insert(engine.errors, "a thread in task.wait was resumed by someone else\n" .. debug.traceback())
	end
	inWait[co] = nil
	return engine.now - start
end

function task.cancel(co)
	if co == coroutine.running() then
		error("cannot cancel the running thread", 2)
	end
	cancelled[co] = true
	coroutine.close(co)
end

function task.desynchronize()
	error("task.desynchronize can only be called from a script that is a descendant of an Actor", 2)
end
task.synchronize = task.desynchronize

-- One step: every deferred thread, else the earliest timer (the clock jumps to it). False when
-- nothing at all is due: every thread waits for something that only the test can bring.
function engine.step()
	if #deferred > 0 then
		local batch = deferred
		deferred = {}
		for _, e in batch do
			resume(e.co, table.unpack(e.args, 1, e.args.n))
		end
		return true
	end
	local best = nil
	for i, e in timers do
		local b = best and timers[best]
		if b == nil or e.at < b.at or (e.at == b.at and e.seq < b.seq) then
			best = i
		end
	end
	if best == nil then
		return false
	end
	local e = table.remove(timers, best)
	if e.at > engine.now then
		engine.now = e.at
	end
	if e.http then
		e.http()
	else
		resume(e.co, table.unpack(e.args, 1, e.args.n))
	end
	return true
end

function engine.nextAt()
	if #deferred > 0 then
		return engine.now
	end
	local at = nil
	for _, e in timers do
		if at == nil or e.at < at then
			at = e.at
		end
	end
	return at
end

-- Runs `f` as a script thread; returns a record whose `done`, `results` and `error` fill in.
function engine.run(f, ...)
	local rec = { done = false }
	local args = table.pack(...)
	task.spawn(function()
		local ok, problem = xpcall(function()
			rec.results = table.pack(f(table.unpack(args, 1, args.n)))
		end, debug.traceback)
		if not ok then
			rec.error = problem
			table.insert(engine.errors, problem)
		end
		rec.done = true
	end)
	return rec
end

os.clock = function()
	return engine.now
end
function tick()
	return 1767225600 + engine.now
end
function time()
	return engine.now
end
local realTime = os.time
os.time = function(t)
	if t ~= nil then
		return realTime(t)
	end
	return 1767225600 + math.floor(engine.now)
end

local function joinArgs(...)
	local parts = {}
	for i = 1, select("#", ...) do
		parts[i] = tostring((select(i, ...)))
	end
	return table.concat(parts, " ")
end

function print(...)
	record("print", joinArgs(...))
end

function warn(...)
	record("warn", joinArgs(...))
end

-- Userdata with a locked metatable, as the engine's own types are.
local function userdata(typeName, index, newindex, tostr)
	return py.userdata({
		__type = typeName,
		__index = index,
		__newindex = newindex or function(_, key)
			error(tostring(key) .. " cannot be assigned to", 2)
		end,
		__tostring = tostr,
		__metatable = "The metatable is locked",
	})
end

-- Signals -------------------------------------------------------------------------------------
local function newSignal(name)
	local handlers = {}
	local waiting = {}
	local signal
	local methods = {}
	function methods.Connect(_, f)
		if type(f) ~= "function" then
			error("Attempt to connect failed: Passed value is not a function", 2)
		end
		local entry = { f = f, connected = true }
		table.insert(handlers, entry)
		return userdata("RBXScriptConnection", function(_, key)
			if key == "Connected" then
				return entry.connected
			elseif key == "Disconnect" then
				return function()
					entry.connected = false
				end
			end
			error(tostring(key) .. " is not a valid member of RBXScriptConnection", 2)
		end)
	end
	function methods.Once(self, f)
		local connection
		connection = methods.Connect(self, function(...)
			connection:Disconnect()
			f(...)
		end)
		return connection
	end
	function methods.Wait(_)
		table.insert(waiting, coroutine.running())
		return coroutine.yield()
	end
	signal = userdata("RBXScriptSignal", function(_, key)
		local m = methods[key]
		if m ~= nil then
			return m
		end
		error(tostring(key) .. " is not a valid member of RBXScriptSignal", 2)
	end, nil, function()
		return "Signal " .. name
	end)
	-- Deferred, as Workspace.SignalBehavior's default: each handler in its own thread.
	local function fire(...)
		for _, entry in table.clone(handlers) do
			if entry.connected then
				task.defer(entry.f, ...)
			end
		end
		local threads = waiting
		waiting = {}
		for _, co in threads do
			task.defer(co, ...)
		end
	end
	return signal, fire
end

-- Instances -----------------------------------------------------------------------------------
local state = setmetatable({}, { __mode = "k" }) -- instance -> its fields

local SUPER = {
	Part = "BasePart",
	BasePart = "PVInstance",
	Model = "PVInstance",
	PVInstance = "Instance",
	Tool = "BackpackItem",
	BackpackItem = "Instance",
	SurfaceGui = "LayerCollector",
	LayerCollector = "GuiBase2d",
	TextLabel = "GuiObject",
	Frame = "GuiObject",
	GuiObject = "GuiBase2d",
	GuiBase2d = "Instance",
}

-- Properties each class may have (with defaults); anything else is "not a valid member".
local NONE = {} -- a property whose default is nil
local PROPS = {
	Instance = { Archivable = true },
	BasePart = { Anchored = false, CanCollide = true, Size = NONE, CFrame = NONE, Position = NONE, Transparency = 0, BrickColor = NONE, Color = NONE },
	Model = { PrimaryPart = NONE },
	Humanoid = { Health = 100, DisplayName = "" },
	Tool = { RequiresHandle = true, CanBeDropped = true, ToolTip = "", TextureId = "", Grip = NONE },
	ProximityPrompt = {
		ActionText = "Interact",
		ObjectText = "",
		Enabled = true,
		HoldDuration = 0,
		MaxActivationDistance = 10,
		RequiresLineOfSight = true,
		KeyboardKeyCode = NONE,
		Style = NONE,
		UIOffset = NONE,
		Exclusivity = NONE,
	},
	SurfaceGui = { Face = NONE, Adornee = NONE, SizingMode = NONE, PixelsPerStud = 50, CanvasSize = NONE },
	GuiObject = { Size = NONE, Position = NONE, AnchorPoint = NONE, BackgroundTransparency = 0, BackgroundColor3 = NONE, Visible = true, ZIndex = 1 },
	TextLabel = { Text = "Label", TextScaled = false, TextSize = 14, Font = NONE, FontFace = NONE, TextColor3 = NONE, TextWrapped = false, TextXAlignment = NONE, TextYAlignment = NONE, RichText = false },
	Player = { UserId = 0, DisplayName = "", Character = NONE, Team = NONE },
	StringValue = { Value = "" },
	NumberValue = { Value = 0 },
	ObjectValue = { Value = NONE },
	BindableEvent = {},
	RemoteEvent = {},
}

local SIGNALS = {
	Instance = { "ChildAdded", "ChildRemoved", "Destroying", "AncestryChanged" },
	ProximityPrompt = { "Triggered", "TriggerEnded", "PromptShown", "PromptHidden" },
	RemoteEvent = { "OnServerEvent", "OnClientEvent" },
	BindableEvent = { "Event" },
	Player = { "CharacterAdded", "CharacterRemoving" },
	Players = { "PlayerAdded", "PlayerRemoving" },
	Tool = { "Equipped", "Unequipped", "Activated" },
	RunService = { "Heartbeat", "Stepped" },
}

local function chain(class)
	local out = {}
	local c = class
	while c ~= nil do
		table.insert(out, c)
		c = SUPER[c] or (c ~= "Instance" and "Instance" or nil)
	end
	return out
end

local methods = {}
local Instance = {}
local newInstance

local function fullName(inst)
	local names = {}
	local cur = inst
	while cur ~= nil and state[cur] ~= nil and state[cur].ClassName ~= "DataModel" do
		table.insert(names, 1, state[cur].Name)
		cur = state[cur].Parent
	end
	return table.concat(names, ".")
end

local function index(inst, key)
	local s = state[inst]
	if key == "Name" or key == "ClassName" or key == "Parent" then
		return s[key]
	end
	if key == "HttpEnabled" and s.ClassName == "HttpService" then
		return engine.httpEnabled -- the game setting; scripts cannot write it
	end
	if s.props[key] ~= nil or s.known[key] then
		return s.props[key]
	end
	for _, class in chain(s.ClassName) do
		local m = methods[class] and methods[class][key]
		if m ~= nil then
			return m
		end
	end
	local signal = s.signals[key]
	if signal ~= nil then
		return signal.signal
	end
	for _, child in s.children do
		if state[child].Name == key then
			return child
		end
	end
	error(tostring(key) .. " is not a valid member of " .. s.ClassName .. ' "' .. fullName(inst) .. '"', 2)
end

local function setParent(inst, parent)
	local s = state[inst]
	if s.destroyed then
		error("The Parent property of " .. s.Name .. " is locked, current parent: NULL, new parent " .. tostring(parent), 3)
	end
	local old = s.Parent
	if old == parent then
		return
	end
	if old ~= nil then
		local siblings = state[old].children
		for i, child in siblings do
			if child == inst then
				table.remove(siblings, i)
				break
			end
		end
		state[old].signals.ChildRemoved.fire(inst)
	end
	s.Parent = parent
	if parent ~= nil then
		table.insert(state[parent].children, inst)
		state[parent].signals.ChildAdded.fire(inst)
	end
	s.signals.AncestryChanged.fire(inst, parent)
end

local function newindex(inst, key, value)
	local s = state[inst]
	if key == "Parent" then
		if value ~= nil and state[value] == nil then
			error("Unable to assign property Parent. Instance expected, got " .. typeof(value), 2)
		end
		setParent(inst, value)
	elseif key == "Name" then
		s.Name = tostring(value)
	elseif s.known[key] then
		s.props[key] = value
	else
		error(tostring(key) .. " is not a valid member of " .. s.ClassName .. ' "' .. fullName(inst) .. '"', 2)
	end
end

function newInstance(class, name)
	local s = { ClassName = class, Name = name or class, children = {}, props = {}, known = {}, signals = {}, attributes = {} }
	for _, c in chain(class) do
		for prop, default in PROPS[c] or {} do
			s.known[prop] = true
			if s.props[prop] == nil and default ~= NONE then
				s.props[prop] = default
			end
		end
		for _, signalName in SIGNALS[c] or {} do
			local signal, fire = newSignal(signalName)
			s.signals[signalName] = { signal = signal, fire = fire }
		end
	end
	local inst = userdata("Instance", index, newindex, function(self)
		return state[self].Name
	end)
	state[inst] = s
	return inst
end

methods.Instance = {}
local M = methods.Instance

function M.IsA(self, class)
	for _, c in chain(state[self].ClassName) do
		if c == class then
			return true
		end
	end
	return false
end
function M.GetChildren(self)
	return table.clone(state[self].children)
end
function M.GetDescendants(self)
	local out = {}
	local function walk(inst)
		for _, child in state[inst].children do
			table.insert(out, child)
			walk(child)
		end
	end
	walk(self)
	return out
end
function M.FindFirstChild(self, name, recursive)
	for _, child in state[self].children do
		if state[child].Name == name then
			return child
		end
	end
	if recursive then
		for _, child in state[self].children do
			local found = M.FindFirstChild(child, name, true)
			if found then
				return found
			end
		end
	end
	return nil
end
function M.FindFirstChildOfClass(self, class)
	for _, child in state[self].children do
		if state[child].ClassName == class then
			return child
		end
	end
	return nil
end
function M.FindFirstChildWhichIsA(self, class)
	for _, child in state[self].children do
		if M.IsA(child, class) then
			return child
		end
	end
	return nil
end
function M.FindFirstAncestorOfClass(self, class)
	local cur = state[self].Parent
	while cur ~= nil do
		if state[cur].ClassName == class then
			return cur
		end
		cur = state[cur].Parent
	end
	return nil
end
function M.IsDescendantOf(self, ancestor)
	local cur = state[self].Parent
	while cur ~= nil do
		if cur == ancestor then
			return true
		end
		cur = state[cur].Parent
	end
	return false
end
function M.WaitForChild(self, name, timeout)
	local started = engine.now
	local warned = false
	while true do
		local child = M.FindFirstChild(self, name)
		if child ~= nil then
			return child
		end
		if timeout ~= nil and engine.now - started >= timeout then
			return nil
		end
		if timeout == nil and not warned and engine.now - started >= 5 then
			warned = true
			warn("Infinite yield possible on '" .. fullName(self) .. ":WaitForChild(\"" .. name .. "\")'")
		end
		task.wait()
	end
end
function M.GetAttribute(self, name)
	return state[self].attributes[name]
end
function M.SetAttribute(self, name, value)
	local kind = typeof(value)
	if kind == "table" or kind == "function" or kind == "Instance" or kind == "thread" then
		error(kind .. " is not a supported attribute type", 2)
	end
	state[self].attributes[name] = value
end
function M.GetAttributes(self)
	return table.clone(state[self].attributes)
end
function M.Destroy(self)
	local s = state[self]
	s.signals.Destroying.fire()
	for _, child in table.clone(s.children) do
		M.Destroy(child)
	end
	setParent(self, nil)
	s.destroyed = true
end
function M.ClearAllChildren(self)
	for _, child in table.clone(state[self].children) do
		M.Destroy(child)
	end
end
function M.GetFullName(self)
	return fullName(self)
end
function M.GetActor(_)
	return nil
end

methods.RemoteEvent = {}
function methods.RemoteEvent.FireClient(_, player)
	if typeof(player) ~= "Instance" or state[player].ClassName ~= "Player" then
		error("FireClient: player argument must be a Player object", 2)
	end
end
function methods.RemoteEvent.FireAllClients(_) end
function methods.RemoteEvent.FireServer(_)
	error("FireServer can only be called from the client", 2)
end

methods.BindableEvent = {}
function methods.BindableEvent.Fire(self, ...)
	state[self].signals.Event.fire(...)
end

methods.ProximityPrompt = {}
function methods.ProximityPrompt.InputHoldBegin(_) end

methods.Player = {}
function methods.Player.GetRankInGroup(self, groupId)
	task.wait(0.05) -- a web call, cached by Roblox after the first
	return state[self].groups[groupId] or 0
end
function methods.Player.IsInGroup(self, groupId)
	return methods.Player.GetRankInGroup(self, groupId) > 0
end
function methods.Player.GetRoleInGroup(self, groupId)
	local rank = methods.Player.GetRankInGroup(self, groupId)
	return rank > 0 and ("Rank " .. rank) or "Guest"
end
function methods.Player.Kick(self, message)
	engine.kicked = engine.kicked or {}
	table.insert(engine.kicked, { player = self, message = message })
end
function methods.Player.LoadCharacter(self)
	engine.spawnCharacter(self)
end

function Instance.new(class, parent)
	if PROPS[class] == nil and SIGNALS[class] == nil and SUPER[class] == nil and class ~= "Folder" and class ~= "Script" and class ~= "ModuleScript" and class ~= "Attachment" and class ~= "Backpack" then
		error('Unable to create an Instance of type "' .. tostring(class) .. '"', 2)
	end
	local inst = newInstance(class)
	if parent ~= nil then
		inst.Parent = parent
	end
	return inst
end

-- Data types the examples touch (plain values: no engine behaviour to model).
local function valueType(name, fields)
	return setmetatable(fields, { __type = name })
end
UDim2 = {
	new = function(xs, xo, ys, yo)
		return valueType("UDim2", { X = { Scale = xs, Offset = xo }, Y = { Scale = ys, Offset = yo } })
	end,
	fromScale = function(x, y)
		return UDim2.new(x, 0, y, 0)
	end,
	fromOffset = function(x, y)
		return UDim2.new(0, x, 0, y)
	end,
}
Vector3 = {
	new = function(x, y, z)
		return valueType("Vector3", { X = x or 0, Y = y or 0, Z = z or 0 })
	end,
}
Color3 = {
	new = function(r, g, b)
		return valueType("Color3", { R = r, G = g, B = b })
	end,
	fromRGB = function(r, g, b)
		return Color3.new(r / 255, g / 255, b / 255)
	end,
}
Enum = setmetatable({}, {
	__index = function(_, enumName)
		return setmetatable({}, {
			__index = function(_, item)
				return enumName .. "." .. item
			end,
		})
	end,
})

-- Services ------------------------------------------------------------------------------------
game = newInstance("DataModel", "Game")
workspace = newInstance("Workspace", "Workspace")
state[workspace].Parent = game
table.insert(state[game].children, workspace)

local services = { Workspace = workspace }
local function service(name)
	local s = services[name]
	if s == nil then
		s = newInstance(name)
		state[s].Parent = game
		table.insert(state[game].children, s)
		services[name] = s
	end
	return s
end

methods.DataModel = {}
function methods.DataModel.GetService(_, name)
	if type(name) ~= "string" or not name:match("^%u%a+$") then
		error("'" .. tostring(name) .. "' is not a valid Service name", 2)
	end
	return service(name)
end
methods.DataModel.FindService = methods.DataModel.GetService
function methods.DataModel.BindToClose(_, f)
	table.insert(engine.closeHandlers, f)
end

methods.RunService = {}
function methods.RunService.IsStudio(_)
	return engine.studio
end
function methods.RunService.IsServer(_)
	return true
end
function methods.RunService.IsClient(_)
	return false
end

methods.Players = {}
function methods.Players.GetPlayers(self)
	local out = {}
	for _, child in state[self].children do
		if state[child].ClassName == "Player" then
			table.insert(out, child)
		end
	end
	return out
end
function methods.Players.GetPlayerByUserId(self, userId)
	for _, p in methods.Players.GetPlayers(self) do
		if state[p].props.UserId == userId then
			return p
		end
	end
	return nil
end

local Players = service("Players")
service("ServerScriptService")
service("ReplicatedStorage")
service("ServerStorage")
service("RunService")
local HttpService = service("HttpService")

-- A player joins: a Player under Players (with a Backpack), PlayerAdded fires.
function engine.addPlayer(userId, name, displayName, groups)
	local p = newInstance("Player", name)
	local s = state[p]
	s.props.UserId = userId
	s.props.DisplayName = displayName or name
	s.groups = groups or {}
	local backpack = newInstance("Backpack", "Backpack")
	backpack.Parent = p
	p.Parent = Players
	state[Players].signals.PlayerAdded.fire(p)
	return p
end

function engine.spawnCharacter(player)
	local character = newInstance("Model", player.Name)
	local root = newInstance("Part", "HumanoidRootPart")
	root.Parent = character
	local humanoid = newInstance("Humanoid", "Humanoid")
	humanoid.Parent = character
	character.Parent = workspace
	player.Character = character
	state[player].signals.CharacterAdded.fire(character)
	return character
end

function engine.removePlayer(player)
	state[Players].signals.PlayerRemoving.fire(player)
	player.Parent = nil
end

function engine.fire(instance, signalName, ...)
	state[instance].signals[signalName].fire(...)
end

-- Secrets -------------------------------------------------------------------------------------
local secretData = setmetatable({}, { __mode = "k" })
local function newSecret(name, value, domain)
	local secret
	secret = userdata("Secret", function(self, key)
		local d = secretData[self]
		if key == "AddPrefix" then
			return function(_, prefix)
				return newSecret(d.name, prefix .. d.value, d.domain)
			end
		elseif key == "AddSuffix" then
			return function(_, suffix)
				return newSecret(d.name, d.value .. suffix, d.domain)
			end
		end
		error(tostring(key) .. " is not a valid member of Secret", 2)
	end, nil, function(self)
		return "Secret(" .. secretData[self].name .. ")"
	end)
	secretData[secret] = { name = name, value = value, domain = domain }
	return secret
end

local function domainMatches(pattern, host)
	if pattern == "*" then
		return true
	end
	if pattern:sub(1, 2) == "*." then
		local suffix = pattern:sub(2)
		return host:sub(-#suffix) == suffix
	end
	return host == pattern
end

-- HttpService ---------------------------------------------------------------------------------
methods.HttpService = {}
local H = methods.HttpService

function H.GetSecret(_, name)
	local store = if engine.studio then engine.localSecrets else engine.secrets
	local found = store[name]
	if found == nil then
		error("Can't find secret with given key", 0)
	end
	return newSecret(name, found.value, found.domain or "*")
end

function H.GenerateGUID(_, wrap)
	local guid = py.guid()
	if wrap == false then
		return guid
	end
	return "{" .. guid .. "}"
end

function H.UrlEncode(_, text)
	return py.urlencode(text)
end

function H.JSONDecode(_, text)
	if type(text) ~= "string" then
		error("Can't parse JSON", 0)
	end
	local ok, value = pcall(py.decode, text)
	if not ok then
		error("Can't parse JSON", 0)
	end
	return value
end

local function encodeString(s)
	return '"'
		.. s:gsub('[%c"\\]', function(c)
			local named = { ['"'] = '\\"', ["\\"] = "\\\\", ["\n"] = "\\n", ["\r"] = "\\r", ["\t"] = "\\t" }
			return named[c] or string.format("\\u%04x", string.byte(c))
		end)
		.. '"'
end

local function encode(value, seen, out)
	local kind = type(value)
	if kind == "nil" then
		table.insert(out, "null")
	elseif kind == "boolean" then
		table.insert(out, tostring(value))
	elseif kind == "number" then
		if value ~= value then
			table.insert(out, "nan") -- documented: NaN and infinity are written, not valid JSON
		elseif value == math.huge then
			table.insert(out, "inf")
		elseif value == -math.huge then
			table.insert(out, "-inf")
		elseif value % 1 == 0 and math.abs(value) < 2 ^ 53 then
			table.insert(out, string.format("%d", value))
		else
			table.insert(out, string.format("%.17g", value))
		end
	elseif kind == "string" then
		table.insert(out, encodeString(value))
	elseif kind == "table" then
		if seen[value] then
			error("Cannot convert a table with cyclic references to JSON", 0)
		end
		seen[value] = true
		local count = 0
		for key in value do
			if type(key) == "number" then
				count += 1
			elseif type(key) ~= "string" then
				error("Cannot convert mixed or non-array tables: keys must be strings", 0)
			end
		end
		if count == 0 and next(value) == nil then
			table.insert(out, "[]")
		elseif count > 0 then
			if #value ~= count then
				error("Cannot convert mixed or non-array tables: keys must be strings", 0)
			end
			-- An array takes priority: string keys beside array items are dropped (documented).
			table.insert(out, "[")
			for i = 1, count do
				if i > 1 then
					table.insert(out, ",")
				end
				encode(value[i], seen, out)
			end
			table.insert(out, "]")
		else
			table.insert(out, "{")
			local first = true
			for key, item in value do
				if not first then
					table.insert(out, ",")
				end
				first = false
				table.insert(out, encodeString(key))
				table.insert(out, ":")
				encode(item, seen, out)
			end
			table.insert(out, "}")
		end
		seen[value] = nil
	elseif kind == "userdata" then
		table.insert(out, "null") -- an Instance or a datatype has no JSON form: it is written as null
	else
		error("Cannot convert " .. kind .. " to JSON", 0)
	end
end

function H.JSONEncode(_, value)
	local out = {}
	local ok, problem = pcall(encode, value, {}, out)
	if not ok then
		error(problem, 0)
	end
	return table.concat(out)
end

local recentRequests = {}

function H.RequestAsync(_, options)
	if not engine.httpEnabled then
		error("Http requests are not enabled. Enable via game settings", 0)
	end
	if type(options) ~= "table" or type(options.Url) ~= "string" then
		error("Unable to cast value to Dictionary: Url is required", 0)
	end
	local url = options.Url
	local scheme, host = url:match("^(%a+)://([^/:?#]+)")
	if scheme ~= "http" and scheme ~= "https" then
		error("HttpError: InvalidUrl", 0)
	end
	local method = (options.Method or "GET"):upper()
	if (method == "GET" or method == "HEAD") and options.Body ~= nil then
		error("Body is not allowed for " .. method .. " requests", 0)
	end
	if options.Body ~= nil and type(options.Body) ~= "string" then
		error("Body must be a string", 0)
	end
	local headers = {}
	for name, value in options.Headers or {} do
		local secret = secretData[value]
		if secret ~= nil then
			if not domainMatches(secret.domain, host:lower()) then
				error("Secret " .. secret.name .. " cannot be used with domain " .. host, 0)
			end
			headers[name] = secret.value
		elseif type(value) == "string" then
			headers[name] = value
		else
			error("Header " .. tostring(name) .. " must be a string", 0)
		end
	end
	-- 500 requests a minute per game server; past it, requests fail.
	local kept = {}
	for _, at in recentRequests do
		if engine.now - at < 60 then
			table.insert(kept, at)
		end
	end
	recentRequests = kept
	if #recentRequests >= engine.httpLimit then
		engine.overLimit += 1
		error("Number of requests exceeded limit", 0)
	end
	table.insert(recentRequests, engine.now)
	local sent = { method = method, url = url, headers = headers, body = options.Body, at = engine.now }
	table.insert(engine.requests, sent)
	-- Python performs it and says how long it took (virtual seconds); the thread yields meanwhile.
	local answer = py.http(sent)
	local co = coroutine.running()
	local token = {}
	local entry = { at = engine.now + math.max(answer.latency or 0.05, FRAME) }
	engine.seq += 1
	entry.seq = engine.seq
	entry.http = function()
		resume(co, token)
	end
	table.insert(timers, entry)
	local got = coroutine.yield()
	if got ~= token then
		table.insert(engine.errors, "a thread in RequestAsync was resumed by someone else\n" .. debug.traceback())
	end
	if answer.error ~= nil then
		error(answer.error, 0)
	end
	sent.status = answer.StatusCode
	return {
		Success = answer.StatusCode >= 200 and answer.StatusCode < 300,
		StatusCode = answer.StatusCode,
		StatusMessage = answer.StatusMessage,
		Headers = answer.Headers,
		Body = answer.Body,
	}
end

-- Scripts and modules ---------------------------------------------------------------------------
local env = _G
local loaded = setmetatable({}, { __mode = "k" })

local function scriptEnv(scriptInstance)
	return setmetatable({ script = scriptInstance }, { __index = env })
end

function require(moduleScript)
	if typeof(moduleScript) ~= "Instance" or state[moduleScript].ClassName ~= "ModuleScript" then
		if type(moduleScript) == "number" then
			error("require(assetId) cannot load a model in this stand-in", 2)
		end
		error("Attempted to call require with invalid argument(s).", 2)
	end
	local cached = loaded[moduleScript]
	if cached ~= nil then
		return cached.value
	end
	local s = state[moduleScript]
	local chunk = py.compile(s.source, s.Name, scriptEnv(moduleScript))
	local results = table.pack(chunk())
	if results.n ~= 1 then
		error("Module code did not return exactly one value", 2)
	end
	loaded[moduleScript] = { value = results[1] }
	return results[1]
end

-- A ModuleScript or Script with `source`, under `parent` (a path like "ServerScriptService").
function engine.addScript(class, name, source, parent)
	local inst = newInstance(class, name)
	state[inst].source = source
	inst.Parent = parent
	return inst
end

-- Runs a Script the way the engine does when the game starts: its own thread.
function engine.runScript(inst)
	local s = state[inst]
	local chunk = py.compile(s.source, s.Name, scriptEnv(inst))
	return engine.run(chunk)
end

-- An instance made by the test (the place as built in Studio).
function engine.new(class, name, parent)
	local inst = newInstance(class, name)
	if parent ~= nil then
		inst.Parent = parent
	end
	return inst
end

function engine.instanceState(inst)
	return state[inst]
end

-- The server closes: every BindToClose function in its own thread, all at once; the server is
-- gone when they have all returned or 30 s have passed (whatever still runs is dropped).
function engine.close()
	local records = {}
	for i, f in engine.closeHandlers do
		records[i] = engine.run(f, "Enum.CloseReason.RobloxMaintenance")
	end
	engine.closeStarted = engine.now
	engine.closeRecords = records
	return records
end

function engine.closeDone()
	for _, rec in engine.closeRecords or {} do
		if not rec.done then
			return engine.now - engine.closeStarted >= 30
		end
	end
	return true
end

-- Globals Roblox scripts expect.
_G.Instance = Instance
typeof = typeof
spawn = function(f, ...)
	return task.defer(f, ...)
end
delay = task.delay
wait = task.wait
engine.game = game
engine.Players = Players
engine.HttpService = HttpService
engine.service = service

return engine
