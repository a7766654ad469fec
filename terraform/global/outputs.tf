output "site_user_group" {
  description = "The IAM group every site user joins."
  value       = aws_iam_group.site_users.name
}

output "portal_certificate_arn" {
  description = "Set as portal_certificate_arn in the portal region's terraform/region/REGION.tfvars."
  value       = var.portal_domain == null ? null : aws_acm_certificate_validation.portal[0].certificate_arn
}
