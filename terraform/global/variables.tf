variable "region" {
  description = "The region of the account-wide resources' API calls (and of the portal's certificate)."
  type        = string
  default     = "us-east-1"
}

variable "prefix" {
  description = "resources.json's {prefix}."
  type        = string
  default     = "yarracloud"
}

variable "portal_domain" {
  description = "The portal's DNS name (e.g. portal.example.org); null: no certificate or DNS record."
  type        = string
  default     = null
}

variable "portal_zone_id" {
  description = "Route 53 hosted zone of portal_domain."
  type        = string
  default     = null
}

variable "portal_load_balancer" {
  description = "The portal region's load balancer {dns_name, zone_id} (regions output); null: no alias record yet."
  type = object({
    dns_name = string
    zone_id  = string
  })
  default = null
}
