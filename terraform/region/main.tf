module "stack" {
  source                 = "../modules/stack"
  prefix                 = var.prefix
  lambda_zip             = var.lambda_zip
  availability_zones     = var.availability_zones
  vpc_cidr               = var.vpc_cidr
  log_retention_days     = var.log_retention_days
  expire_days            = var.expire_days
  min_vcpus              = var.min_vcpus
  worker_image_tag       = var.worker_image_tag
  sentry_dsn_parameter   = var.sentry_dsn_parameter
  alarm_emails           = var.alarm_emails
  portal                 = var.portal
  portal_certificate_arn = var.portal_certificate_arn
  portal_image_tag       = var.portal_image_tag
  deletion_protection    = var.deletion_protection
  force_destroy_buckets  = var.force_destroy_buckets
}
