# The portal (portal_flask) on ECS Fargate in private subnets behind an
# internet-facing ALB. The ALB forwards every path: /stripe/webhook is public
# (Stripe signs it; the app verifies the signature) and the app itself keeps
# every other page behind its sign-in.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  region  = data.aws_region.current.name
  account = data.aws_caller_identity.current.account_id
  port    = 8000
}

resource "aws_ecr_repository" "portal" {
  name                 = "${var.name}/portal"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_secretsmanager_secret" "flask" {
  #checkov:skip=CKV2_AWS_57:The Flask signing key is set by the operator (aws secretsmanager put-secret-value); rotating it signs everyone out, so it is rotated by hand.
  name                    = "${var.name}/portal/secret-key"
  description             = "The portal's YC_PORTAL_SECRET_KEY; set its value before the first deployment"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

resource "aws_security_group" "alb" {
  name        = "${var.name}-portal-alb"
  description = "The portal's load balancer: HTTPS from anywhere"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "alb_https" {
  #checkov:skip=CKV_AWS_260:The portal is a public web site; its sign-in and Stripe's webhook must be reachable from anywhere.
  security_group_id = aws_security_group.alb.id
  description       = "HTTPS from anywhere"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "alb_http" {
  #checkov:skip=CKV_AWS_260:Port 80 only answers with a redirect to HTTPS.
  security_group_id = aws_security_group.alb.id
  description       = "HTTP, redirected to HTTPS"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 80
  to_port           = 80
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "alb_to_tasks" {
  security_group_id            = aws_security_group.alb.id
  description                  = "To the portal's tasks"
  referenced_security_group_id = aws_security_group.task.id
  from_port                    = local.port
  to_port                      = local.port
  ip_protocol                  = "tcp"
}

resource "aws_security_group" "task" {
  name        = "${var.name}-portal-task"
  description = "The portal's tasks: from the load balancer only"
  vpc_id      = var.vpc_id
}

resource "aws_vpc_security_group_ingress_rule" "task_from_alb" {
  security_group_id            = aws_security_group.task.id
  description                  = "From the load balancer"
  referenced_security_group_id = aws_security_group.alb.id
  from_port                    = local.port
  to_port                      = local.port
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "task_https" {
  security_group_id = aws_security_group.task.id
  description       = "HTTPS to AWS APIs, Stripe and Sentry"
  cidr_ipv4         = "0.0.0.0/0"
  from_port         = 443
  to_port           = 443
  ip_protocol       = "tcp"
}

resource "aws_vpc_security_group_egress_rule" "task_database" {
  security_group_id            = aws_security_group.task.id
  description                  = "PostgreSQL"
  referenced_security_group_id = var.database_security_group_id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_vpc_security_group_ingress_rule" "database_from_task" {
  security_group_id            = var.database_security_group_id
  description                  = "PostgreSQL from the portal's tasks"
  referenced_security_group_id = aws_security_group.task.id
  from_port                    = 5432
  to_port                      = 5432
  ip_protocol                  = "tcp"
}

resource "aws_lb" "portal" {
  #checkov:skip=CKV_AWS_91:ALB access logs need an unencrypted (SSE-S3) log bucket; the portal's requests are logged by the app and its errors go to Sentry.
  #checkov:skip=CKV2_AWS_28:The app rate-limits sign-in itself (per address, and per address and email, counted in its database: YC_PORTAL_MAX_FAILED_SIGN_INS); a managed WAF is an account-level choice attached to this ALB outside this module.
  #checkov:skip=CKV2_AWS_20:Port 80 answers only with a redirect to HTTPS (listener "http").
  name                       = "${var.name}-portal"
  load_balancer_type         = "application"
  internal                   = false
  security_groups            = [aws_security_group.alb.id]
  subnets                    = var.public_subnet_ids
  drop_invalid_header_fields = true
  enable_deletion_protection = var.deletion_protection
}

resource "aws_lb_target_group" "portal" {
  name        = "${var.name}-portal"
  port        = local.port
  protocol    = "HTTP"
  target_type = "ip"
  vpc_id      = var.vpc_id
  health_check {
    path    = "/healthz"
    matcher = "200"
  }
}

resource "aws_lb_listener" "https" {
  load_balancer_arn = aws_lb.portal.arn
  port              = 443
  protocol          = "HTTPS"
  ssl_policy        = "ELBSecurityPolicy-TLS13-1-2-2021-06"
  certificate_arn   = var.certificate_arn
  default_action {
    type             = "forward"
    target_group_arn = aws_lb_target_group.portal.arn
  }
  lifecycle {
    precondition {
      condition     = var.certificate_arn != null
      error_message = "The portal needs portal_certificate_arn: apply terraform/global with portal_domain set, then put its output portal_certificate_arn into this region's terraform/region/REGION.tfvars."
    }
  }
}

resource "aws_lb_listener" "http" {
  #checkov:skip=CKV_AWS_2:This listener only redirects to HTTPS.
  #checkov:skip=CKV_AWS_103:This listener only redirects to HTTPS.
  load_balancer_arn = aws_lb.portal.arn
  port              = 80
  protocol          = "HTTP"
  default_action {
    type = "redirect"
    redirect {
      port        = "443"
      protocol    = "HTTPS"
      status_code = "HTTP_301"
    }
  }
}

resource "aws_cloudwatch_log_group" "portal" {
  name              = "/yarracloud/${var.name}/portal"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_ecs_cluster" "portal" {
  name = "${var.name}-portal"
  setting {
    name  = "containerInsights"
    value = "enabled"
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["ecs-tasks.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "execution" {
  name               = "${var.name}-${local.region}-portal-execution"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "execution" {
  statement {
    sid       = "PullImage"
    actions   = ["ecr:GetAuthorizationToken"]
    resources = ["*"]
  }
  statement {
    sid       = "PullPortalImage"
    actions   = ["ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer", "ecr:BatchGetImage"]
    resources = [aws_ecr_repository.portal.arn]
  }
  statement {
    sid       = "WriteLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.portal.arn}:*"]
  }
  statement {
    sid       = "ReadSecrets"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.database_url_secret_arn, aws_secretsmanager_secret.flask.arn]
  }
  statement {
    sid       = "RegionKey"
    actions   = ["kms:Decrypt"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "execution" {
  name   = "start-portal"
  role   = aws_iam_role.execution.id
  policy = data.aws_iam_policy_document.execution.json
}

resource "aws_iam_role" "task" {
  name               = "${var.name}-${local.region}-portal-task"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "task" {
  # Managing site users, and only them (the users under their IAM path): resources.json's
  # site_users.administration_policy, which the local cloud's tests evaluate.
  source_policy_documents = [var.site_user_admin_policy]
  statement {
    sid     = "Tables"
    actions = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:Scan", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
    resources = flatten([
      for arn in values(var.table_arns) : [arn, "${arn}/index/*"]
    ])
  }
  statement {
    sid       = "RegionKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

data "aws_iam_policy_document" "stripe" {
  statement {
    sid       = "ReadStripeSecret"
    actions   = ["secretsmanager:GetSecretValue"]
    resources = [var.stripe_secret_arn]
  }
}

resource "aws_iam_role_policy" "stripe" {
  name   = "read-stripe-secret"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.stripe.json
}

resource "aws_iam_role_policy" "task" {
  name   = "administer-sites"
  role   = aws_iam_role.task.id
  policy = data.aws_iam_policy_document.task.json
}

resource "aws_ecs_task_definition" "portal" {
  family                   = "${var.name}-portal"
  requires_compatibilities = ["FARGATE"]
  network_mode             = "awsvpc"
  cpu                      = "512"
  memory                   = "1024"
  execution_role_arn       = aws_iam_role.execution.arn
  task_role_arn            = aws_iam_role.task.arn
  volume {
    name = "tmp"
  }
  container_definitions = jsonencode([{
    name                   = "portal"
    image                  = "${aws_ecr_repository.portal.repository_url}:${var.image_tag}"
    essential              = true
    readonlyRootFilesystem = true
    # The server spools large request and response bodies to files: a task-local volume for them.
    mountPoints  = [{ sourceVolume = "tmp", containerPath = "/tmp/portal", readOnly = false }]
    command      = ["python", "-m", "portal_flask", "serve", "--host", "0.0.0.0", "--port", tostring(local.port)]
    portMappings = [{ containerPort = local.port, protocol = "tcp" }]
    environment = [
      for key, value in merge(var.backend_environment, { YC_PORTAL_PROXY_HOPS = "1" }) : { name = key, value = value }
    ]
    secrets = [
      { name = "YC_PORTAL_DATABASE_URL", valueFrom = var.database_url_secret_arn },
      { name = "YC_PORTAL_SECRET_KEY", valueFrom = aws_secretsmanager_secret.flask.arn },
    ]
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.portal.name
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = "portal"
      }
    }
  }])
}

resource "aws_ecs_service" "portal" {
  name            = "${var.name}-portal"
  cluster         = aws_ecs_cluster.portal.id
  task_definition = aws_ecs_task_definition.portal.arn
  desired_count   = var.desired_count
  launch_type     = "FARGATE"
  network_configuration {
    subnets          = var.private_subnet_ids
    security_groups  = [aws_security_group.task.id]
    assign_public_ip = false
  }
  load_balancer {
    target_group_arn = aws_lb_target_group.portal.arn
    container_name   = "portal"
    container_port   = local.port
  }
  depends_on = [aws_lb_listener.https]
}
