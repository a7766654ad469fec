output "api_url" {
  description = "The API's base URL: the agent's [cloud] api_url."
  value       = module.stack.api_url
}

output "worker_repository_url" {
  description = "Where scripts/deploy pushes recon_image."
  value       = module.stack.worker_repository_url
}

output "portal_repository_url" {
  description = "Where the portal image is pushed (portal region only)."
  value       = module.stack.portal_repository_url
}

output "portal_load_balancer_dns_name" {
  description = "The portal's load balancer (portal region only)."
  value       = module.stack.portal_load_balancer_dns_name
}

output "alarm_topic_arn" {
  description = "The alarm topic."
  value       = module.stack.alarm_topic_arn
}
