output "api_url" {
  description = "The API's base URL: the agent's [cloud] api_url."
  value       = module.api.url
}

output "worker_repository_url" {
  description = "Where scripts/deploy pushes recon_image."
  value       = module.batch.repository_url
}

output "portal_repository_url" {
  description = "Where the portal image is pushed (portal region only)."
  value       = var.portal ? module.portal[0].repository_url : null
}

output "portal_load_balancer_dns_name" {
  description = "The portal's load balancer (portal region only)."
  value       = var.portal ? module.portal[0].load_balancer_dns_name : null
}

output "alarm_topic_arn" {
  description = "The alarm topic."
  value       = module.monitoring.topic_arn
}
