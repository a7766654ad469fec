variable "name" {
  description = "Name prefix."
  type        = string
}

variable "tables" {
  description = "resources.json's tables, resolved."
  type        = any
}

variable "kms_key_arn" {
  description = "Key that encrypts tables and the database."
  type        = string
}

variable "deletion_protection" {
  description = "Refuse to delete tables and the database (false only for throw-away stacks)."
  type        = bool
  default     = true
}

variable "database" {
  description = "Create the portal's PostgreSQL database (in the portal's region only)."
  type        = bool
  default     = false
}

variable "database_instance_class" {
  description = "The database's instance class."
  type        = string
  default     = "db.t4g.small"
}

variable "database_multi_az" {
  description = "Keep a standby in a second zone."
  type        = bool
  default     = true
}

variable "subnet_ids" {
  description = "Private subnets for the database."
  type        = list(string)
  default     = []
}

variable "vpc_id" {
  description = "The VPC of the database's security group."
  type        = string
  default     = null
}

variable "database_password_version" {
  description = "Increase to set a new generated master password (stored in Secrets Manager)."
  type        = number
  default     = 1
}
