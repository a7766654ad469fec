# One Lambda function per handler in functions/handlers: "api", each queue's
# function and each schedule's function of resources.json. Every function has
# its own role with only what it touches, its own log group, and the settings
# functions/core/settings.py reads.

data "aws_caller_identity" "current" {}
data "aws_partition" "current" {}
data "aws_region" "current" {}

locals {
  d = var.description
  # Each SQS-driven function gets a sixth of its queue's visibility timeout, so a
  # message is never redelivered while a batch holding it is still running.
  queue_timeouts = { for key, queue in local.d.queues : queue.function => floor(queue.visibility_timeout_seconds / 6) }
  schedule_timeouts = {
    for key, schedule in local.d.schedules : schedule.function => min(floor(schedule.seconds * 0.8), 900)
  }
  timeouts  = merge({ api = 29 }, local.schedule_timeouts, local.queue_timeouts)
  functions = keys(local.timeouts)

  # The functions that talk to Stripe, and so read its secret at cold start.
  stripe_functions = ["billing_outbox", "billing_reconcile"]

  all_tables = keys(local.d.tables)
  access = {
    for fn in local.functions : fn => lookup(var.access, fn, {
      tables = local.all_tables, read_buckets = [], delete_buckets = [], batch = []
    })
  }

  table_env = { for key, table in local.d.tables : "YC_${upper(key)}_TABLE" => table.name }
  settings_environment = merge(local.table_env, {
    YC_IN_BUCKET                 = local.d.buckets.in.name
    YC_OUT_BUCKET                = local.d.buckets.out.name
    YC_JOB_QUEUE_SPOT            = local.d.batch.job_queues.spot.name
    YC_JOB_QUEUE_ON_DEMAND       = local.d.batch.job_queues.on_demand.name
    YC_JOB_DEFINITION            = local.d.batch.job_definition.name
    YC_ENVIRONMENT               = var.environment
    YC_STRIPE_SECRET             = var.stripe_secret_arn
    POWERTOOLS_METRICS_NAMESPACE = var.metrics_namespace
  })
  environment = merge(local.settings_environment,
    var.sentry_dsn == null ? {} : { SENTRY_DSN = var.sentry_dsn },
  )
  batch_actions = {
    submit    = ["batch:SubmitJob", "batch:TagResource"]
    describe  = ["batch:DescribeJobs", "batch:ListJobs"]
    terminate = ["batch:TerminateJob", "batch:CancelJob"]
  }
}

data "aws_iam_policy_document" "assume" {
  statement {
    actions = ["sts:AssumeRole"]
    principals {
      type        = "Service"
      identifiers = ["lambda.amazonaws.com"]
    }
  }
}

resource "aws_iam_role" "function" {
  for_each           = toset(local.functions)
  name               = "${var.name}-${data.aws_region.current.name}-${each.key}"
  assume_role_policy = data.aws_iam_policy_document.assume.json
}

data "aws_iam_policy_document" "function" {
  for_each = toset(local.functions)

  statement {
    sid       = "OwnLogs"
    actions   = ["logs:CreateLogStream", "logs:PutLogEvents"]
    resources = ["${aws_cloudwatch_log_group.function[each.key].arn}:*"]
  }
  statement {
    sid       = "Traces"
    actions   = ["xray:PutTraceSegments", "xray:PutTelemetryRecords"]
    resources = ["*"]
  }
  statement {
    sid     = "Tables"
    actions = ["dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query", "dynamodb:PutItem", "dynamodb:UpdateItem", "dynamodb:DeleteItem", "dynamodb:BatchWriteItem", "dynamodb:ConditionCheckItem", "dynamodb:DescribeTable"]
    resources = flatten([
      for key in local.access[each.key].tables : [var.table_arns[key], "${var.table_arns[key]}/index/*"]
    ])
  }
  statement {
    sid       = "RegionKey"
    actions   = ["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"]
    resources = [var.kms_key_arn]
  }
  dynamic "statement" {
    for_each = contains(local.stripe_functions, each.key) ? [1] : []
    content {
      sid       = "ReadStripeSecret"
      actions   = ["secretsmanager:GetSecretValue"]
      resources = [var.stripe_secret_arn]
    }
  }
  dynamic "statement" {
    for_each = length(local.access[each.key].read_buckets) > 0 ? [1] : []
    content {
      sid       = "ReadBuckets"
      actions   = ["s3:GetObject", "s3:ListBucket", "s3:ListBucketMultipartUploads"]
      resources = flatten([for key in local.access[each.key].read_buckets : [var.bucket_arns[key], "${var.bucket_arns[key]}/*"]])
    }
  }
  dynamic "statement" {
    for_each = length(local.access[each.key].delete_buckets) > 0 ? [1] : []
    content {
      sid       = "DeleteExpiredUploads"
      actions   = ["s3:DeleteObject", "s3:AbortMultipartUpload"]
      resources = [for key in local.access[each.key].delete_buckets : "${var.bucket_arns[key]}/*"]
    }
  }
  dynamic "statement" {
    for_each = contains(local.access[each.key].batch, "submit") ? [1] : []
    content {
      sid       = "SubmitWorkerJobs"
      actions   = local.batch_actions.submit
      resources = concat(values(var.job_queue_arns), ["${var.job_definition_arn_prefix}:*", "${var.job_definition_arn_prefix}"])
    }
  }
  dynamic "statement" {
    for_each = contains(local.access[each.key].batch, "describe") ? [1] : []
    content {
      sid       = "ReadJobs"
      actions   = local.batch_actions.describe
      resources = ["*"]
    }
  }
  dynamic "statement" {
    for_each = contains(local.access[each.key].batch, "terminate") ? [1] : []
    content {
      sid       = "StopJobs"
      actions   = local.batch_actions.terminate
      resources = ["arn:${data.aws_partition.current.partition}:batch:${data.aws_region.current.name}:${data.aws_caller_identity.current.account_id}:job/*"]
    }
  }
  dynamic "statement" {
    for_each = [for key, queue in local.d.queues : key if queue.function == each.key]
    content {
      sid       = "Consume${replace(title(replace(statement.value, "_", " ")), " ", "")}Queue"
      actions   = ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes", "sqs:ChangeMessageVisibility"]
      resources = [var.queue_arns[statement.value]]
    }
  }
}

resource "aws_iam_role_policy" "function" {
  for_each = toset(local.functions)
  name     = "least-privilege"
  role     = aws_iam_role.function[each.key].id
  policy   = data.aws_iam_policy_document.function[each.key].json
}

resource "aws_cloudwatch_log_group" "function" {
  for_each          = toset(local.functions)
  name              = "/aws/lambda/${var.name}-${each.key}"
  retention_in_days = var.log_retention_days
  kms_key_id        = var.kms_key_arn
}

resource "aws_lambda_function" "function" {
  #checkov:skip=CKV_AWS_116:Queue-driven functions dead-letter through their queue's DLQ; the scheduled ones run again at their next period and alarm on errors. Nothing invokes them asynchronously otherwise.
  #checkov:skip=CKV_AWS_117:The functions call only AWS APIs and Stripe over TLS; a VPC would add a NAT dependency and cold-start latency without narrowing what they can reach.
  #checkov:skip=CKV_AWS_272:The package is built and applied by the same deploy step from the reviewed repository; code signing would add a signing profile without a second party to trust.
  #checkov:skip=CKV_AWS_115:Concurrency is bounded by the queues' batch size and the account pool; reserved_concurrency sets a limit per function where an operator wants one.
  for_each                       = toset(local.functions)
  function_name                  = "${var.name}-${each.key}"
  role                           = aws_iam_role.function[each.key].arn
  runtime                        = "python3.11"
  architectures                  = ["x86_64"]
  handler                        = "functions.handlers.${each.key}.lambda_handler"
  filename                       = var.zip_path
  source_code_hash               = filebase64sha256(var.zip_path)
  timeout                        = local.timeouts[each.key]
  memory_size                    = 512
  kms_key_arn                    = var.kms_key_arn
  reserved_concurrent_executions = lookup(var.reserved_concurrency, each.key, -1)

  environment {
    variables = merge(local.environment, { POWERTOOLS_SERVICE_NAME = each.key })
  }

  tracing_config {
    mode = "Active"
  }

  logging_config {
    log_format = "Text"
    log_group  = aws_cloudwatch_log_group.function[each.key].name
  }

  depends_on = [aws_iam_role_policy.function]
}

resource "aws_lambda_event_source_mapping" "queue" {
  for_each                           = var.sqs_event_source_mappings ? local.d.queues : {}
  event_source_arn                   = var.queue_arns[each.key]
  function_name                      = aws_lambda_function.function[each.value.function].arn
  batch_size                         = each.value.batch_size
  maximum_batching_window_in_seconds = 1
  function_response_types            = ["ReportBatchItemFailures"]
}

resource "aws_cloudwatch_event_rule" "schedule" {
  for_each            = local.d.schedules
  name                = each.value.name
  schedule_expression = each.value.expression
}

resource "aws_cloudwatch_event_target" "schedule" {
  for_each = var.schedule_targets ? local.d.schedules : {}
  rule     = aws_cloudwatch_event_rule.schedule[each.key].name
  arn      = aws_lambda_function.function[each.value.function].arn
}

resource "aws_lambda_permission" "schedule" {
  for_each      = var.schedule_targets ? local.d.schedules : {}
  statement_id  = "schedule-${each.key}"
  action        = "lambda:InvokeFunction"
  function_name = aws_lambda_function.function[each.value.function].function_name
  principal     = "events.amazonaws.com"
  source_arn    = aws_cloudwatch_event_rule.schedule[each.key].arn
}
