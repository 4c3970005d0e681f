--!strict
--[[
Exporter (a ModuleScript in ServerScriptService, beside OrderLog): logs in once for the whole
game. Every script that logs orders requires this module instead of OrderLog, so the key and
the workspace id live in one place and setupAPI runs once per server.

	local orderLog = require(game:GetService("ServerScriptService"):WaitForChild("Exporter"))
	local res = orderLog.createOrder(customer, cashier, {items = {"Latte"}})

The write key lives in the game's Secrets store (Creator Dashboard > your game > Secrets), with
your server's domain; for Studio play tests add it under File > Experience Settings > Security >
Local Secrets. Without it in Studio (or with HTTP requests off), OrderLog runs a dry run: it
prints each order instead of sending it and answers ids like "dry-run-1", so the game can be
tested before the server exists. On a live server a missing key is a loud warning and every
call answers an error; nothing throws from require.
]]

local HttpService = game:GetService("HttpService")
local ServerScriptService = game:GetService("ServerScriptService")

local OrderLog = require(ServerScriptService:WaitForChild("OrderLog"))

local WORKSPACE_ID = "your-workspace-id" -- printed by `orderlog workspace create`
local BASE_URL = "https://orders.example.com" -- your orderlog server (https, reachable from Roblox)
local SECRET_NAME = "orderlog_write_key"

local found, apiKey = pcall(function()
	return HttpService:GetSecret(SECRET_NAME)
end)
if not found then
	apiKey = nil -- Studio: a dry run; live: setupAPI warns and refuses every call
	warn(`[orders] no secret "{SECRET_NAME}" ({apiKey}): add it to the game's Secrets store`)
end

OrderLog.setupAPI(apiKey, WORKSPACE_ID, {
	baseUrl = BASE_URL,
	budgetPerMinute = 120, -- this server's share of Roblox's 500 HTTP requests a minute
	onError = function(message, info)
		-- An operation that failed for good (say, an order already completed), or a request that
		-- failed and will be retried (info.kind == "request"; warned on the 1st and every 10th).
		if info.kind == "operation" then
			warn("[orders] " .. message)
		end
	end,
})

return OrderLog
