variable "name" {
  description = "Name prefix."
  type        = string
}

variable "cidr" {
  description = "The VPC's address range."
  type        = string
  default     = "10.40.0.0/16"
}

variable "availability_zones" {
  description = "Zones to spread the subnets over (two or more)."
  type        = list(string)
}

variable "kms_key_arn" {
  description = "Key that encrypts the flow-log group."
  type        = string
}

variable "log_retention_days" {
  description = "How long flow logs are kept."
  type        = number
}
