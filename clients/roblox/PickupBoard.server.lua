--[[
PickupBoard (a Script inside a Part with a SurfaceGui): shows the numbers of the orders that
are ready for pickup, live, by long-polling the workspace's events.

The first poll (no cursor) answers a snapshot of the active orders; each later poll answers the
events after the cursor it was given (waiting up to 20 s for one). An answer with a snapshot
(after a `reset`, when the server lost its history or the cursor is too old) replaces the board;
a {"type": "reset"} frame means: poll again from a fresh snapshot. Polls share OrderLog's
request budget, so the board never starves the order updates (3 requests a minute when quiet).

Needs a read key (a write key cannot read events): the secret "orderlog_read_key".
]]

local HttpService = game:GetService("HttpService")
local ServerScriptService = game:GetService("ServerScriptService")

local orderLog = require(ServerScriptService:WaitForChild("Exporter"))

local READY = "waiting_for_pickup"
local found, readKey = pcall(function()
	return HttpService:GetSecret("orderlog_read_key")
end)
if not found then
	-- Studio without the local secret, or a game without it: the board stays dark, the game runs.
	warn("pickup board: no secret 'orderlog_read_key' (" .. tostring(readKey) .. "); the board is off")
	return
end

local board = script.Parent:WaitForChild("SurfaceGui")
local list = board:FindFirstChild("Numbers") or Instance.new("TextLabel")
list.Name = "Numbers"
list.Size = UDim2.fromScale(1, 1)
list.BackgroundTransparency = 1
list.TextScaled = true
list.Font = Enum.Font.GothamBold
list.Parent = board

local ready = {} -- order number -> true

local function render()
	local numbers = {}
	for number in pairs(ready) do
		numbers[#numbers + 1] = number
	end
	table.sort(numbers)
	local text = {}
	for i, number in ipairs(numbers) do
		text[i] = "#" .. number
	end
	list.Text = #text > 0 and ("Ready\n" .. table.concat(text, "  ")) or "Ready\n-"
end

local function apply(order)
	if type(order) ~= "table" or order.order_number == nil then
		return
	end
	if order.status == READY then
		ready[order.order_number] = true
	else
		ready[order.order_number] = nil -- collected, completed, cancelled...
	end
end

local cursor = nil
while true do
	local answer, problem = orderLog.getEvents(cursor, { wait = 20, readKey = readKey, status = READY })
	if answer == nil then
		warn("pickup board: " .. tostring(problem))
		task.wait(5)
	else
		if answer.orders ~= nil then -- a snapshot: the board starts over from it
			ready = {}
			for _, order in ipairs(answer.orders) do
				apply(order)
			end
		end
		local restart = false
		for _, frame in ipairs(answer.events or {}) do
			if frame.type == "reset" then
				restart = true
			elseif frame.type == "event" then
				apply(frame.order)
			elseif frame.type == "batch" then
				for _, event in ipairs(frame.events or {}) do
					apply(event.order)
				end
			end
		end
		cursor = answer.cursor
		if restart then
			cursor = nil
		end
		render()
	end
end
