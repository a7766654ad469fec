# Everything one region runs, from resources.json's one description.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

data "aws_ssm_parameter" "sentry_dsn" {
  count = var.sentry_dsn_parameter == null ? 0 : 1
  name  = var.sentry_dsn_parameter
}

module "description" {
  source    = "../description"
  prefix    = var.prefix
  region    = data.aws_region.current.name
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
}

locals {
  d          = module.description.resources
  sentry_dsn = var.sentry_dsn_parameter == null ? null : data.aws_ssm_parameter.sentry_dsn[0].value
}

# Stripe's restricted key, webhook signing secret and catalogue ids: the value is
# written by `scripts/admin stripe setup`, never by Terraform, so it is in no state.
resource "aws_secretsmanager_secret" "stripe" {
  #checkov:skip=CKV2_AWS_57:The restricted key is made in Stripe's Dashboard and stored by `scripts/admin stripe setup`; it is rotated there, by hand (docs/runbook.md).
  name                    = local.d.secrets.stripe.name
  description             = local.d.secrets.stripe.description
  kms_key_id              = module.storage.kms_key_arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

module "storage" {
  source        = "../storage"
  name          = var.prefix
  buckets       = local.d.buckets
  expire_days   = var.expire_days
  enforce_tls   = var.enforce_tls
  force_destroy = var.force_destroy_buckets
}

module "network" {
  source             = "../network"
  name               = var.prefix
  cidr               = var.vpc_cidr
  availability_zones = var.availability_zones
  kms_key_arn        = module.storage.kms_key_arn
  log_retention_days = var.log_retention_days
}

module "events" {
  source      = "../events"
  queues      = local.d.queues
  rules       = local.d.rules
  kms_key_arn = module.storage.kms_key_arn
}

module "data" {
  source              = "../data"
  name                = var.prefix
  tables              = local.d.tables
  kms_key_arn         = module.storage.kms_key_arn
  deletion_protection = var.deletion_protection
  database            = var.portal
  subnet_ids          = module.network.private_subnet_ids
  vpc_id              = module.network.vpc_id
}

module "batch" {
  source             = "../batch"
  name               = var.prefix
  batch              = local.d.batch
  subnet_ids         = module.network.private_subnet_ids
  vpc_id             = module.network.vpc_id
  min_vcpus          = var.min_vcpus
  image_tag          = var.worker_image_tag
  kms_key_arn        = module.storage.kms_key_arn
  bucket_arns        = module.storage.bucket_arns
  log_retention_days = var.log_retention_days
  sentry_dsn         = local.sentry_dsn
}

module "functions" {
  source                    = "../functions"
  name                      = var.prefix
  description               = local.d
  zip_path                  = var.lambda_zip
  kms_key_arn               = module.storage.kms_key_arn
  queue_arns                = module.events.queue_arns
  table_arns                = module.data.table_arns
  bucket_arns               = module.storage.bucket_arns
  job_queue_arns            = module.batch.job_queue_arns
  job_definition_arn_prefix = module.batch.job_definition_arn_prefix
  log_retention_days        = var.log_retention_days
  sentry_dsn                = local.sentry_dsn
  stripe_secret_arn         = aws_secretsmanager_secret.stripe.arn
  sqs_event_source_mappings = var.sqs_event_source_mappings
  schedule_targets          = var.schedule_targets
}

module "api" {
  source               = "../api"
  name                 = var.prefix
  function_name        = module.functions.api_function_name
  invoke_arn           = module.functions.api_invoke_arn
  kms_key_arn          = module.storage.kms_key_arn
  log_retention_days   = var.log_retention_days
  account_logging_role = var.api_account_logging_role
}

module "portal" {
  count                      = var.portal ? 1 : 0
  source                     = "../portal"
  name                       = var.prefix
  vpc_id                     = module.network.vpc_id
  private_subnet_ids         = module.network.private_subnet_ids
  public_subnet_ids          = module.network.public_subnet_ids
  certificate_arn            = var.portal_certificate_arn
  image_tag                  = var.portal_image_tag
  kms_key_arn                = module.storage.kms_key_arn
  log_retention_days         = var.log_retention_days
  database_security_group_id = module.data.database_security_group_id
  database_url_secret_arn    = module.data.database_url_secret_arn
  stripe_secret_arn          = aws_secretsmanager_secret.stripe.arn
  backend_environment        = module.functions.environment
  table_arns                 = module.data.table_arns
  site_user_admin_policy     = jsonencode(local.d.site_users.administration_policy)
  deletion_protection        = var.deletion_protection
}

module "monitoring" {
  source         = "../monitoring"
  name           = var.prefix
  kms_key_arn    = module.storage.kms_key_arn
  alarm_emails   = var.alarm_emails
  dlq_names      = module.events.dlq_names
  function_names = module.functions.function_names
  api_name       = module.api.api_name
  api_stage      = module.api.stage
  portal = var.portal ? {
    load_balancer = module.portal[0].load_balancer_arn_suffix
    target_group  = module.portal[0].target_group_arn_suffix
  } : null
}
