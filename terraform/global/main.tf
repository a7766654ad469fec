# What is account-wide, so two regions never fight over one resource: the IAM
# group of site users and its policy (resources.json's site_users, once per
# region it deploys to), and the portal's certificate and DNS record.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}

locals {
  # Every region the region root is applied to: one <region>.tfvars each.
  regions = sort([for file in fileset("${path.module}/../region", "*.tfvars") : trimsuffix(file, ".tfvars")])
}

module "description" {
  for_each  = toset(local.regions)
  source    = "../modules/description"
  prefix    = var.prefix
  region    = each.key
  account   = data.aws_caller_identity.current.account_id
  partition = data.aws_partition.current.partition
}

locals {
  site_users = module.description[local.regions[0]].resources.site_users
  policy = {
    Version = local.site_users.policy.Version
    Statement = flatten([
      for region in local.regions : [
        for statement in module.description[region].resources.site_users.policy.Statement :
        merge(statement, { Sid = "${statement.Sid}${replace(title(replace(region, "-", " ")), " ", "")}" })
      ]
    ])
  }
}

resource "aws_iam_group" "site_users" {
  name = local.site_users.group
}

resource "aws_iam_group_policy" "site_users" {
  name   = local.site_users.policy_name
  group  = aws_iam_group.site_users.name
  policy = jsonencode(local.policy)
}

resource "aws_acm_certificate" "portal" {
  count             = var.portal_domain == null ? 0 : 1
  domain_name       = var.portal_domain
  validation_method = "DNS"
  lifecycle {
    create_before_destroy = true
  }
}

resource "aws_route53_record" "portal_validation" {
  for_each = var.portal_domain == null ? {} : {
    for option in aws_acm_certificate.portal[0].domain_validation_options : option.domain_name => option
  }
  zone_id = var.portal_zone_id
  name    = each.value.resource_record_name
  type    = each.value.resource_record_type
  records = [each.value.resource_record_value]
  ttl     = 300
}

resource "aws_acm_certificate_validation" "portal" {
  count                   = var.portal_domain == null ? 0 : 1
  certificate_arn         = aws_acm_certificate.portal[0].arn
  validation_record_fqdns = [for record in aws_route53_record.portal_validation : record.fqdn]
}

resource "aws_route53_record" "portal" {
  count   = var.portal_domain != null && var.portal_load_balancer != null ? 1 : 0
  zone_id = var.portal_zone_id
  name    = var.portal_domain
  type    = "A"
  alias {
    name                   = var.portal_load_balancer.dns_name
    zone_id                = var.portal_load_balancer.zone_id
    evaluate_target_health = true
  }
}
