variable "prefix" {
  description = "resources.json's {prefix}: the start of every resource name."
  type        = string
  default     = "yarracloud"
}

variable "lambda_zip" {
  description = "The functions' package (scripts/deploy builds it)."
  type        = string
}

variable "availability_zones" {
  description = "Zones of the private and public subnets."
  type        = list(string)
}

variable "vpc_cidr" {
  description = "The region's VPC address range."
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
  description = "Compute environment key (spot, on_demand) => vCPUs kept warm."
  type        = map(number)
  default     = {}
}

variable "worker_image_tag" {
  description = "The recon_image tag the job definition runs."
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
  description = "Host the portal and its database in this region (one region does)."
  type        = bool
  default     = false
}

variable "portal_certificate_arn" {
  description = "The portal's ACM certificate in this region (global root output)."
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

# Emulator switches: each defaults to the production value. The region root does
# not pass them; only the tests' override (tests/terraform/emulator/) turns them off.

variable "enforce_tls" {
  description = "Deny plain-HTTP requests to the buckets (emulator switch; see the storage module)."
  type        = bool
  default     = true
}

variable "sqs_event_source_mappings" {
  description = "Connect the queues to their functions (emulator switch; see the functions module)."
  type        = bool
  default     = true
}

variable "api_account_logging_role" {
  description = "Give API Gateway the region's CloudWatch logging role (emulator switch; see the api module)."
  type        = bool
  default     = true
}

variable "schedule_targets" {
  description = "Point the schedules at their functions (emulator switch; see the functions module)."
  type        = bool
  default     = true
}
