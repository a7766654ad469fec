variable "region" {
  description = "The AWS region this root deploys."
  type        = string
}

variable "endpoint" {
  description = "URL of an AWS emulator every service is sent to (tests); null: AWS itself."
  type        = string
  default     = null
}

variable "prefix" {
  description = "resources.json's {prefix}."
  type        = string
  default     = "yarracloud"
}

variable "lambda_zip" {
  description = "The functions' package, built by scripts/deploy."
  type        = string
  default     = "../../../build/functions.zip"
}

variable "availability_zones" {
  description = "Zones of the subnets."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "log_retention_days" {
  description = "How long logs are kept."
  type        = number
  default     = 90
}

variable "expire_days" {
  description = "Bucket key => days after which objects expire (default: resources.json)."
  type        = map(number)
  default     = {}
}

variable "min_vcpus" {
  description = "Compute environment key (spot, on_demand) => vCPUs kept warm; 0 scales to nothing."
  type        = map(number)
  default     = {}
}

variable "worker_image_tag" {
  description = "The recon_image tag the job definition runs (scripts/deploy sets it)."
  type        = string
  default     = "latest"
}

variable "sentry_dsn_parameter" {
  description = "SSM SecureString parameter holding the Sentry DSN; null: no Sentry."
  type        = string
  default     = null
}

variable "alarm_emails" {
  description = "Addresses the alarms are mailed to."
  type        = list(string)
  default     = []
}

variable "portal" {
  description = "Host the portal and its database in this region."
  type        = bool
  default     = false
}

variable "portal_certificate_arn" {
  description = "The portal's ACM certificate in this region (terraform/global output)."
  type        = string
  default     = null
}

variable "portal_image_tag" {
  description = "The portal image tag to run."
  type        = string
  default     = "latest"
}

variable "deletion_protection" {
  description = "Protect tables, the database and the load balancer from deletion."
  type        = bool
  default     = true
}

variable "force_destroy_buckets" {
  description = "Let destroy delete buckets that still hold objects (throw-away stacks only)."
  type        = bool
  default     = false
}

# Emulator switches: each default is the production value.

variable "enforce_tls" {
  description = "Deny plain-HTTP requests to the buckets. Off only against the emulator, which serves plain HTTP."
  type        = bool
  default     = true
}

variable "sqs_event_source_mappings" {
  description = "Connect the queues to their functions. Off only against the emulator, where the local runtime polls the queues."
  type        = bool
  default     = true
}

variable "api_account_logging_role" {
  description = "Give API Gateway the region's CloudWatch logging role. Off only against the emulator, which does not serve the account settings."
  type        = bool
  default     = true
}

variable "schedule_targets" {
  description = "Point the schedules at their functions. Off only against the emulator, which fails on Lambda targets and runs no schedules (the local runtime does)."
  type        = bool
  default     = true
}
