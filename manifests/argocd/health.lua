-- Argo CD health of EnsImage, EnsImageExport and EnsImageCatalog (one body for the three kinds).
-- The operator reports kstatus conditions: Ready, Reconciling and Stalled, plus the generation it
-- last acted on in status.observedGeneration.
local hs = {}

if obj.status == nil or obj.status.conditions == nil then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

-- Paused by the user (ens.image-operator.io/paused): the operator makes no call and acts on no
-- new spec until the annotation goes.
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Reconciling" and condition.reason == "Paused" then
    hs.status = "Suspended"
    hs.message = condition.message or "Paused"
    return hs
  end
end

-- Conditions written for an older spec say nothing about the current one.
local generation = obj.metadata.generation
local observed = obj.status.observedGeneration
if generation ~= nil and observed ~= nil and observed ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to act on generation " .. tostring(generation)
  return hs
end

local ready, reconciling, stalled
for _, condition in ipairs(obj.status.conditions) do
  if condition.type == "Ready" then
    ready = condition
  elseif condition.type == "Reconciling" then
    reconciling = condition
  elseif condition.type == "Stalled" then
    stalled = condition
  end
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = stalled.message or stalled.reason or "Stalled"
  return hs
end

if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = ready.message or "Ready"
  return hs
end

hs.status = "Progressing"
if reconciling ~= nil and reconciling.status == "True" and reconciling.message ~= nil then
  hs.message = reconciling.message
elseif ready ~= nil and ready.message ~= nil then
  hs.message = ready.message
else
  hs.message = "Waiting for the object to become Ready"
end
return hs
