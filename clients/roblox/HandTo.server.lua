--!strict
--[[
HandTo (a Script in ServerScriptService): the till makes an order, the cashier carries it as a
tool and hands it over at the counter.

- PlaceOrder (a RemoteEvent in ReplicatedStorage) is fired by the staff's till UI with the
  customer and the items. Any client can fire any RemoteEvent with anything, so the server
  checks everything: the sender is staff, within a per-player rate limit, the customer is a
  player in this server, the items are a short list of short strings (on the menu, if MENU is
  set). Then createOrder logs it and the cashier gets a Tool "Order #12".
- The "Hand over" ProximityPrompt sits on the counter (a Part named OrderCounter), never on a
  customer: a staff member holding an order tool triggers it, and the tool goes to the order's
  customer, logged as handed_to with the staff member as the one who handed it over. The server
  checks staff on every trigger; the StaffPrompts LocalScript hides the prompt from the others.
- Staff: a rank in your group (STAFF_GROUP_ID, STAFF_MIN_RANK), looked up once per player,
  for the players already in the server when this script starts and for those who join.
]]

local Players = game:GetService("Players")
local ReplicatedStorage = game:GetService("ReplicatedStorage")
local RunService = game:GetService("RunService")
local ServerScriptService = game:GetService("ServerScriptService")

local orderLog = require(ServerScriptService:WaitForChild("Exporter"))

local STAFF_GROUP_ID = 0 -- your group's id
local STAFF_MIN_RANK = 10 -- the lowest rank that may take and hand over orders
local STUDIO_STAFF = true -- in Studio every test player is staff (test players have no group)
local MENU: { [string]: boolean } = {} -- e.g. {Latte = true, Mocha = true}; empty: any item
local MAX_ITEMS = 10
local MAX_ITEM_LENGTH = 40
local ORDERS_PER_MINUTE = 12 -- per staff member
local COUNTER_NAME = "OrderCounter"

-- Staff ----------------------------------------------------------------------------------------
local staffRank: { [Player]: number } = {}

local function isStaff(player: Player): boolean
	if STUDIO_STAFF and RunService:IsStudio() then
		return true
	end
	local rank = staffRank[player]
	if rank == nil then
		local ok, found = pcall(function()
			return player:GetRankInGroup(STAFF_GROUP_ID)
		end)
		rank = if ok then found else 0 -- a failed web call grants nothing, and is asked again
		if ok then
			staffRank[player] = rank
		end
	end
	return (rank :: number) >= STAFF_MIN_RANK
end

Players.PlayerAdded:Connect(function(player)
	isStaff(player) -- look the rank up before the first order
end)
for _, player in Players:GetPlayers() do
	task.spawn(isStaff, player) -- the players already here when this script started
end

-- Rate limit: a token bucket per player --------------------------------------------------------
local buckets: { [Player]: { tokens: number, at: number } } = {}

local function allow(player: Player): boolean
	local now = os.clock()
	local bucket = buckets[player] or { tokens = 3, at = now }
	bucket.tokens = math.min(3, bucket.tokens + (now - bucket.at) * ORDERS_PER_MINUTE / 60)
	bucket.at = now
	buckets[player] = bucket
	if bucket.tokens < 1 then
		return false
	end
	bucket.tokens -= 1
	return true
end

Players.PlayerRemoving:Connect(function(player)
	staffRank[player] = nil
	buckets[player] = nil
end)

-- Orders being carried: tool -> the order (its id, or OrderLog's handle while not confirmed) --
local carried: { [Tool]: any } = {}

local function validItems(items: any): { string }?
	if type(items) ~= "table" or #items < 1 or #items > MAX_ITEMS then
		return nil
	end
	local out = {}
	for key, item in items do
		if type(key) ~= "number" or type(item) ~= "string" or #item < 1 or #item > MAX_ITEM_LENGTH then
			return nil
		end
		if next(MENU) ~= nil and not MENU[item] then
			return nil
		end
		out[key] = item
	end
	return if #out == #items then out else nil
end

local placeOrder = Instance.new("RemoteEvent")
placeOrder.Name = "PlaceOrder"
placeOrder.Parent = ReplicatedStorage

placeOrder.OnServerEvent:Connect(function(cashier: Player, customer: any, items: any)
	if not isStaff(cashier) or not allow(cashier) then
		return
	end
	if typeof(customer) ~= "Instance" or not customer:IsA("Player") or customer.Parent ~= Players then
		return
	end
	local list = validItems(items)
	if list == nil then
		return
	end
	local res = orderLog.createOrder(customer, cashier, { items = list, status = "waiting_for_preparation" })
	if res.error ~= nil and not res.pending then
		warn("[orders] not logged: " .. res.error)
		return
	end
	-- res.pending: the server has not answered yet; the order is still logged, and the handle
	-- stands for it until then.
	local tool = Instance.new("Tool")
	tool.Name = if res.order_number then "Order #" .. res.order_number else "Order"
	tool.RequiresHandle = false
	tool.CanBeDropped = false
	tool:SetAttribute("CustomerUserId", customer.UserId)
	carried[tool] = res.id or res.handle
	tool.Parent = cashier:FindFirstChildOfClass("Backpack")
end)

-- The counter ----------------------------------------------------------------------------------
local counter = workspace:WaitForChild(COUNTER_NAME)
local prompt = Instance.new("ProximityPrompt")
prompt.Name = "HandOver"
prompt.ActionText = "Hand over order"
prompt.ObjectText = "Counter"
prompt.RequiresLineOfSight = false
prompt:SetAttribute("StaffOnly", true) -- StaffPrompts.client.lua hides it from non-staff
prompt.Parent = counter

prompt.Triggered:Connect(function(staff: Player)
	if not isStaff(staff) then
		return
	end
	local character = staff.Character
	local tool = character and character:FindFirstChildOfClass("Tool")
	local order = tool and carried[tool]
	if tool == nil or order == nil then
		return
	end
	local customer = Players:GetPlayerByUserId(tool:GetAttribute("CustomerUserId"))
	if customer == nil or customer == staff then
		return -- the customer left: the order stays with the staff member
	end
	tool.Parent = customer:FindFirstChildOfClass("Backpack")
	carried[tool] = nil
	-- Queued, never yields: the prompt answers at once.
	orderLog.setHandedTo(order, staff, customer)
end)
