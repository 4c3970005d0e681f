--[[
Exporter (a ModuleScript in ServerScriptService, beside OrderLog): logs in once for the whole
game. Every script that logs orders requires this module instead of OrderLog, so the key and
the workspace id live in one place and setupAPI runs once per server.

	local orderLog = require(game:GetService("ServerScriptService"):WaitForChild("Exporter"))
	local res = orderLog.createOrder(customer, cashier, {items = {"Latte"}})
]]

local HttpService = game:GetService("HttpService")
local RunService = game:GetService("RunService")
local ServerScriptService = game:GetService("ServerScriptService")

local OrderLog = require(ServerScriptService:WaitForChild("OrderLog"))

local WORKSPACE_ID = "your-workspace-id" -- printed by `orderlog workspace create`
local BASE_URL = "https://orders.example.com" -- your orderlog server

-- The write key comes from the game's Secrets store (Creator Dashboard > your game > Secrets),
-- never from a script: a Secret cannot be printed, and OrderLog only ever puts it in the
-- Authorization header. In a local Studio play test the store is empty: add the secret under
-- Game Settings > Security (local secrets) to test there.
local ok, apiKey = pcall(function()
	return HttpService:GetSecret("orderlog_write_key")
end)
if not ok then
	error("Exporter: add the secret 'orderlog_write_key' to the game's Secrets store: " .. tostring(apiKey))
end

OrderLog.setupAPI(apiKey, WORKSPACE_ID, {
	baseUrl = BASE_URL,
	budgetPerMinute = 120, -- this module's share of the game server's 500 requests a minute
	onError = function(message, info)
		-- Every operation that failed for good: a 4xx (say an order that is already completed),
		-- or what was still queued when the server shut down.
		warn("[orders] " .. message .. " (" .. tostring(info.op) .. " " .. tostring(info.status or "") .. ")")
	end,
})

if RunService:IsStudio() then
	print("[orders] logging to " .. BASE_URL .. ", workspace " .. WORKSPACE_ID)
end

return OrderLog
