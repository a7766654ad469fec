# AWS Batch for recon_image: on-demand and spot EC2 compute environments in
# private subnets, their job queues, the worker's job definition with its retry
# strategy, and the ECR repository of the worker image.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  region = data.aws_region.current.name
  job    = var.batch.job_definition
  allocation = {
    SPOT = "SPOT_CAPACITY_OPTIMIZED"
    EC2  = "BEST_FIT_PROGRESSIVE"
  }
}

resource "aws_ecr_repository" "worker" {
  name                 = "${var.name}/recon-worker"
  image_tag_mutability = "IMMUTABLE"
  image_scanning_configuration {
    scan_on_push = true
  }
  encryption_configuration {
    encryption_type = "KMS"
    kms_key         = var.kms_key_arn
  }
}

resource "aws_ecr_lifecycle_policy" "worker" {
  repository = aws_ecr_repository.worker.name
  policy = jsonencode({
    rules = [{
      rulePriority = 1
      description  = "keep the 20 newest images"
      selection    = { tagStatus = "any", countType = "imageCountMoreThan", countNumber = 20 }
      action       = { type = "expire" }
    }]
  })
}

data "aws_iam_policy_document" "assume" {
  for_each = toset(["batch.amazonaws.com", "ec2.amazonaws.com", "ecs-tasks.amazonaws.com"])
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = [each.key]
    }
  }
}

resource "aws_iam_role" "service" {
  name               = "${var.name}-${local.region}-batch-service"
  assume_role_policy = data.aws_iam_policy_document.assume["batch.amazonaws.com"].json
}

resource "aws_iam_role_policy_attachment" "service" {
  role       = aws_iam_role.service.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AWSBatchServiceRole"
}

resource "aws_iam_role" "instance" {
  name               = "${var.name}-${local.region}-batch-instance"
  assume_role_policy = data.aws_iam_policy_document.assume["ec2.amazonaws.com"].json
}

resource "aws_iam_role_policy_attachment" "instance" {
  role       = aws_iam_role.instance.name
  policy_arn = "arn:${data.aws_partition.current.partition}:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role"
}

resource "aws_iam_instance_profile" "instance" {
  name = "${var.name}-${local.region}-batch-instance"
  role = aws_iam_role.instance.name
}

resource "aws_security_group" "worker" {
  name        = "${var.name}-worker"
  description = "Batch workers: no inbound; outbound HTTPS to AWS APIs, ECR and Sentry"
  vpc_id      = var.vpc_id

  egress {
    description = "HTTPS"
    from_port   = 443
    to_port     = 443
    protocol    = "tcp"
    cidr_blocks = ["0.0.0.0/0"]
  }
}

resource "aws_launch_template" "worker" {
  name = "${var.name}-worker"
  metadata_options {
    http_endpoint               = "enabled"
    http_tokens                 = "required"
    http_put_response_hop_limit = 1
  }
  block_device_mappings {
    device_name = "/dev/xvda"
    ebs {
      volume_size = 100
      volume_type = "gp3"
      encrypted   = true
      kms_key_id  = var.kms_key_arn
    }
  }
}

resource "aws_batch_compute_environment" "env" {
  for_each                 = var.batch.compute_environments
  compute_environment_name = each.value.name
  type                     = "MANAGED"
  service_role             = aws_iam_role.service.arn

  compute_resources {
    type                = each.value.type
    allocation_strategy = local.allocation[each.value.type]
    min_vcpus           = lookup(var.min_vcpus, each.key, 0)
    max_vcpus           = each.value.max_vcpus
    instance_type       = var.instance_types
    instance_role       = aws_iam_instance_profile.instance.arn
    subnets             = var.subnet_ids
    security_group_ids  = [aws_security_group.worker.id]
    launch_template {
      launch_template_id = aws_launch_template.worker.id
      version            = aws_launch_template.worker.latest_version
    }
  }

  depends_on = [aws_iam_role_policy_attachment.service]
}

resource "aws_batch_job_queue" "queue" {
  for_each = var.batch.job_queues
  name     = each.value.name
  state    = "ENABLED"
  priority = 1
  compute_environment_order {
    order               = 1
    compute_environment = aws_batch_compute_environment.env[each.key].arn
  }
}

resource "aws_cloudwatch_log_group" "jobs" {
  name              = "/yarracloud/${var.name}/jobs"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_iam_role" "job" {
  name               = "${var.name}-${local.region}-worker-job"
  assume_role_policy = data.aws_iam_policy_document.assume["ecs-tasks.amazonaws.com"].json
}

data "aws_iam_policy_document" "job" {
  statement {
    sid       = "ReadRawData"
    actions   = ["s3:GetObject", "s3:ListBucket"]
    resources = [var.bucket_arns["in"], "${var.bucket_arns["in"]}/*"]
  }
  statement {
    sid       = "WriteResults"
    actions   = ["s3:PutObject", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"]
    resources = ["${var.bucket_arns["out"]}/*"]
  }
  statement {
    sid       = "RegionKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey"]
    resources = [var.kms_key_arn]
  }
}

resource "aws_iam_role_policy" "job" {
  name   = "read-in-write-out"
  role   = aws_iam_role.job.id
  policy = data.aws_iam_policy_document.job.json
}

resource "aws_batch_job_definition" "worker" {
  name                  = local.job.name
  type                  = "container"
  platform_capabilities = ["EC2"]
  propagate_tags        = true

  container_properties = jsonencode({
    image      = "${aws_ecr_repository.worker.repository_url}:${var.image_tag}"
    command    = local.job.command
    jobRoleArn = aws_iam_role.job.arn
    resourceRequirements = [
      { type = "VCPU", value = tostring(local.job.vcpus) },
      { type = "MEMORY", value = tostring(local.job.memory_mib) },
    ]
    environment = var.sentry_dsn == null ? [] : [
      { name = "SENTRY_DSN", value = var.sentry_dsn }
    ]
    readonlyRootFilesystem = false
    privileged             = false
    logConfiguration = {
      logDriver = "awslogs"
      options = {
        "awslogs-group"         = aws_cloudwatch_log_group.jobs.name
        "awslogs-region"        = local.region
        "awslogs-stream-prefix" = "worker"
      }
    }
  })

  retry_strategy {
    attempts = local.job.retry.attempts
    dynamic "evaluate_on_exit" {
      for_each = local.job.retry.evaluate_on_exit
      content {
        action           = lower(evaluate_on_exit.value.action)
        on_status_reason = try(evaluate_on_exit.value.on_status_reason, null)
        on_reason        = try(evaluate_on_exit.value.on_reason, null)
        on_exit_code     = try(evaluate_on_exit.value.on_exit_code, null)
      }
    }
  }

  timeout {
    attempt_duration_seconds = local.job.timeout_seconds
  }
}
