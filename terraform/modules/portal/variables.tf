variable "name" {
  description = "Name prefix."
  type        = string
}

variable "vpc_id" {
  description = "The VPC."
  type        = string
}

variable "private_subnet_ids" {
  description = "Subnets of the portal's tasks."
  type        = list(string)
}

variable "public_subnet_ids" {
  description = "Subnets of the load balancer."
  type        = list(string)
}

variable "certificate_arn" {
  description = "ACM certificate of the portal's domain (the global root's output)."
  type        = string
  default     = null
}

variable "image_tag" {
  description = "The portal image tag to run."
  type        = string
  default     = "latest"
}

variable "desired_count" {
  description = "Portal tasks kept running."
  type        = number
  default     = 2
}

variable "kms_key_arn" {
  description = "The region's key."
  type        = string
}

variable "log_retention_days" {
  description = "How long portal logs are kept."
  type        = number
}

variable "database_security_group_id" {
  description = "The database's security group (the portal's tasks may reach it)."
  type        = string
}

variable "database_url_secret_arn" {
  description = "Secret holding YC_PORTAL_DATABASE_URL."
  type        = string
}

variable "stripe_secret_arn" {
  description = "The Secrets Manager secret holding Stripe's key and ids; the portal reads it at start."
  type        = string
}

variable "backend_environment" {
  description = "The backend's settings (table and bucket names ...), as the functions get them."
  type        = map(string)
}

variable "table_arns" {
  description = "Table key => ARN (the portal administers sites, users, modes and billing)."
  type        = map(string)
}

variable "site_user_admin_policy" {
  description = "The policy document (JSON) that lets the portal manage the site users under their IAM path, and no other IAM user."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete the load balancer."
  type        = bool
  default     = true
}
