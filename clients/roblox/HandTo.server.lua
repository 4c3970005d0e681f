--[[
HandTo (a Script in ServerScriptService): a cashier holding a drink hands it to a customer.

Each tool the cashier gives is an order's item; the tool carries the order's id in an attribute
"OrderId" set when the order was made (createOrder's res.id). When the cashier triggers the
customer's ProximityPrompt "HandTo" while holding it, the tool moves to the customer's backpack
and the order becomes handed_to, with the cashier as the one who handed it over.
]]

local Players = game:GetService("Players")
local ServerScriptService = game:GetService("ServerScriptService")

local orderLog = require(ServerScriptService:WaitForChild("Exporter"))

local function heldTool(player)
	local character = player.Character
	return character and character:FindFirstChildOfClass("Tool")
end

local function handTo(cashier, customer)
	local tool = heldTool(cashier)
	if tool == nil or customer == cashier then
		return
	end
	local orderId = tool:GetAttribute("OrderId")
	tool.Parent = customer:WaitForChild("Backpack")
	if orderId ~= nil then
		-- Queued, never yields: the prompt answers at once; the update is batched with others.
		orderLog.setHandedTo(orderId, cashier, customer)
	end
end

local function addPrompt(customer)
	customer.CharacterAdded:Connect(function(character)
		local root = character:WaitForChild("HumanoidRootPart")
		local prompt = Instance.new("ProximityPrompt")
		prompt.Name = "HandTo"
		prompt.ActionText = "Hand to " .. customer.DisplayName
		prompt.ObjectText = "Order"
		prompt.RequiresLineOfSight = false
		prompt.Parent = root
		prompt.Triggered:Connect(function(cashier)
			handTo(cashier, customer)
		end)
	end)
end

Players.PlayerAdded:Connect(addPrompt)
for _, player in ipairs(Players:GetPlayers()) do
	addPrompt(player)
end

-- The register: a RemoteEvent "PlaceOrder" fired by the cashier's till UI with the customer and
-- the items. createOrder yields until the server answers (it has the id then); the tool the
-- cashier will hand over remembers the order's id.
local placeOrder = Instance.new("RemoteEvent")
placeOrder.Name = "PlaceOrder"
placeOrder.Parent = game:GetService("ReplicatedStorage")

placeOrder.OnServerEvent:Connect(function(cashier, customer, items)
	if typeof(customer) ~= "Instance" or not customer:IsA("Player") or type(items) ~= "table" then
		return -- a client can send anything: check it
	end
	local res = orderLog.createOrder(customer, cashier, {items = items, status = "waiting_for_preparation"})
	if res.error ~= nil then
		warn("order not logged: " .. res.error)
		return
	end
	local tool = Instance.new("Tool")
	tool.Name = "Order #" .. res.order_number
	tool.RequiresHandle = false
	tool:SetAttribute("OrderId", res.id)
	tool.Parent = cashier:WaitForChild("Backpack")
end)
