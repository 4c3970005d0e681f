--[[
StaffPrompts (a LocalScript in StarterPlayerScripts): hides prompts marked StaffOnly (the
counter's "Hand over order") from players below the staff rank. Only what a player sees: the
server checks the rank again on every trigger (HandTo.server.lua), since a client can be
changed by its player.
]]

local Players = game:GetService("Players")
local ProximityPromptService = game:GetService("ProximityPromptService")

local STAFF_GROUP_ID = 0 -- the same as in HandTo.server.lua
local STAFF_MIN_RANK = 10

local player = Players.LocalPlayer
local ok, rank = pcall(function()
	return player:GetRankInGroup(STAFF_GROUP_ID)
end)
local staff = ok and rank >= STAFF_MIN_RANK

ProximityPromptService.PromptShown:Connect(function(prompt)
	if prompt:GetAttribute("StaffOnly") and not staff then
		prompt.Enabled = false -- on this client only
	end
end)
