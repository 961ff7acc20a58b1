-- An install from a registry that an admin allowed to reach a loopback or private
-- address (`"allow_private": true`, `keyadm registry add --allow-private`): its upgrades
-- keep that permission rather than refuse the same address again.
ALTER TABLE mcp_servers ADD COLUMN source_allow_private boolean NOT NULL DEFAULT false;
