-- The model name a publisher gave with its claim (`ModelVersionRegistered.modelName`): empty when the publisher kept
-- it private, and for claims indexed before names were recorded.
ALTER TABLE model_version_registered ADD COLUMN model_name TEXT NOT NULL DEFAULT '';
