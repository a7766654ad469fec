output "load_balancer_dns_name" {
  description = "Point the portal's DNS name here (the global root's alias record)."
  value       = aws_lb.portal.dns_name
}

output "load_balancer_zone_id" {
  description = "The load balancer's hosted zone (for an alias record)."
  value       = aws_lb.portal.zone_id
}

output "repository_url" {
  description = "Where the portal image is pushed."
  value       = aws_ecr_repository.portal.repository_url
}

output "load_balancer_arn_suffix" {
  description = "CloudWatch's LoadBalancer dimension."
  value       = aws_lb.portal.arn_suffix
}

output "target_group_arn_suffix" {
  description = "CloudWatch's TargetGroup dimension."
  value       = aws_lb_target_group.portal.arn_suffix
}
