# The region root's emulator switches (terraform/modules/stack/variables.tf): each
# defaults to the production value, and only this file, which the tests in
# tests/terraform copy into the region root beside emulator_override.tf, turns
# off what the emulator cannot serve. Each module's variable says why.

module "stack" {
  enforce_tls               = false
  sqs_event_source_mappings = false
  api_account_logging_role  = false
  schedule_targets          = false
}
