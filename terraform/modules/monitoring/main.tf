# Alarms to one SNS topic, and the region's dashboard. docs/runbook.md has one
# entry per alarm, under the alarm's name without the prefix.

data "aws_region" "current" {}

locals {
  ns = var.metrics_namespace
  # The functions' own metrics come from aws-lambda-powertools (EMF), whose one
  # dimension is the function's service name.
  custom = {
    tasks-lost = {
      description = "The sweeper found tasks whose Batch job no longer exists."
      service     = "sweeper", metric = "TasksLost", statistic = "Sum", period = 300
      threshold   = 0, evaluation_periods = 1
    }
    oldest-waiting-task = {
      description = "A task has waited in SUBMITTED or RUNNABLE longer than ${var.oldest_waiting_seconds} s."
      service     = "sweeper", metric = "OldestWaitingTaskAgeSeconds", statistic = "Maximum", period = 300
      threshold   = var.oldest_waiting_seconds, evaluation_periods = 1
    }
    batch-stuck-runnable = {
      description = "A Batch job has stayed RUNNABLE longer than ${var.oldest_runnable_seconds} s: no instance can be started for it."
      service     = "sweeper", metric = "OldestRunnableTaskAgeSeconds", statistic = "Maximum", period = 300
      threshold   = var.oldest_runnable_seconds, evaluation_periods = 1
    }
    usage-reports-rejected = {
      description = "Stripe refused usage reports; those customers are not billed until fixed."
      service     = "billing_outbox", metric = "UsageReportsRejected", statistic = "Sum", period = 300
      threshold   = 0, evaluation_periods = 1
    }
    usage-reports-overdue = {
      description = "A usage report has waited for Stripe more than a day: Stripe or its key keeps failing, and Stripe takes no usage older than 35 days."
      service     = "billing_outbox", metric = "OldestPendingUsageReportSeconds", statistic = "Maximum", period = 300
      threshold   = 86400, evaluation_periods = 1
    }
    meter-error-reports = {
      description = "Stripe dropped usage events it had accepted and said so in a meter error report: those customers are billed too little until fixed."
      service     = "stripe_meter_errors", metric = "MeterErrorReports", statistic = "Sum", period = 300
      threshold   = 0, evaluation_periods = 1
    }
    usage-totals-differ = {
      description = "A site's usage last month differs from what Stripe's meter summed (an event Stripe dropped after taking it: a meter error report)."
      service     = "billing_reconcile", metric = "UsageTotalsDiffering", statistic = "Sum", period = 3600
      threshold   = 0, evaluation_periods = 1
    }
  }
}

resource "aws_sns_topic" "alarms" {
  name              = "${var.name}-alarms"
  kms_master_key_id = var.kms_key_arn
}

resource "aws_sns_topic_subscription" "email" {
  for_each  = toset(var.alarm_emails)
  topic_arn = aws_sns_topic.alarms.arn
  protocol  = "email"
  endpoint  = each.key
}

resource "aws_cloudwatch_metric_alarm" "dlq" {
  for_each            = var.dlq_names
  alarm_name          = "${var.name}-dlq-${each.key}"
  alarm_description   = "A message reached the ${each.key} dead-letter queue. Runbook: dlq-messages."
  namespace           = "AWS/SQS"
  metric_name         = "ApproximateNumberOfMessagesVisible"
  dimensions          = { QueueName = each.value }
  statistic           = "Maximum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda_errors" {
  for_each            = var.function_names
  alarm_name          = "${var.name}-lambda-errors-${each.key}"
  alarm_description   = "The ${each.key} function raised errors. Runbook: lambda-errors."
  namespace           = "AWS/Lambda"
  metric_name         = "Errors"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "lambda_throttles" {
  for_each            = var.function_names
  alarm_name          = "${var.name}-lambda-throttles-${each.key}"
  alarm_description   = "The ${each.key} function was throttled. Runbook: lambda-throttles."
  namespace           = "AWS/Lambda"
  metric_name         = "Throttles"
  dimensions          = { FunctionName = each.value }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "api_5xx" {
  alarm_name          = "${var.name}-api-5xx"
  alarm_description   = "The API answered 5xx more than ${var.api_5xx_per_5_minutes} times in 5 minutes. Runbook: api-5xx."
  namespace           = "AWS/ApiGateway"
  metric_name         = "5XXError"
  dimensions          = { ApiName = var.api_name, Stage = var.api_stage }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.api_5xx_per_5_minutes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

# The portal's load balancer: its targets answering 5xx, the load balancer's own
# 5xx (no healthy target to send a request to, or a target that did not answer),
# and targets failing their health check.
locals {
  portal_5xx = {
    "portal-target-5xx" = { metric = "HTTPCode_Target_5XX_Count", who = "The portal" }
    "portal-elb-5xx"    = { metric = "HTTPCode_ELB_5XX_Count", who = "The portal's load balancer itself" }
  }
}

resource "aws_cloudwatch_metric_alarm" "portal_5xx" {
  for_each            = var.portal == null ? {} : local.portal_5xx
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.who} answered 5xx more than ${var.portal_5xx_per_5_minutes} times in 5 minutes. Runbook: ${each.key}."
  namespace           = "AWS/ApplicationELB"
  metric_name         = each.value.metric
  dimensions          = { LoadBalancer = var.portal.load_balancer }
  statistic           = "Sum"
  period              = 300
  evaluation_periods  = 1
  threshold           = var.portal_5xx_per_5_minutes
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "portal_unhealthy_hosts" {
  count               = var.portal == null ? 0 : 1
  alarm_name          = "${var.name}-portal-unhealthy-hosts"
  alarm_description   = "A portal task has failed the load balancer's health check for ${var.portal_unhealthy_minutes} minutes. Runbook: portal-unhealthy-hosts."
  namespace           = "AWS/ApplicationELB"
  metric_name         = "UnHealthyHostCount"
  dimensions          = { TargetGroup = var.portal.target_group, LoadBalancer = var.portal.load_balancer }
  statistic           = "Maximum"
  period              = 60
  evaluation_periods  = var.portal_unhealthy_minutes
  threshold           = 0
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_metric_alarm" "failed_task_rate" {
  alarm_name          = "${var.name}-failed-task-rate"
  alarm_description   = "More than ${var.failed_task_percent} % of the tasks finished in the last hour failed (at least 3 finished). Runbook: failed-task-rate."
  evaluation_periods  = 1
  threshold           = var.failed_task_percent
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]

  metric_query {
    id          = "rate"
    expression  = "IF(failed + succeeded >= 3, 100 * failed / (failed + succeeded), 0)"
    label       = "failed tasks (%)"
    return_data = true
  }
  metric_query {
    id = "failed"
    metric {
      namespace   = local.ns
      metric_name = "TasksFailed"
      dimensions  = { service = "job_state" }
      stat        = "Sum"
      period      = 3600
    }
  }
  metric_query {
    id = "succeeded"
    metric {
      namespace   = local.ns
      metric_name = "TasksSucceeded"
      dimensions  = { service = "job_state" }
      stat        = "Sum"
      period      = 3600
    }
  }
}

resource "aws_cloudwatch_metric_alarm" "custom" {
  for_each            = local.custom
  alarm_name          = "${var.name}-${each.key}"
  alarm_description   = "${each.value.description} Runbook: ${each.key}."
  namespace           = local.ns
  metric_name         = each.value.metric
  dimensions          = { service = each.value.service }
  statistic           = each.value.statistic
  period              = each.value.period
  evaluation_periods  = each.value.evaluation_periods
  threshold           = each.value.threshold
  comparison_operator = "GreaterThanThreshold"
  treat_missing_data  = "notBreaching"
  alarm_actions       = [aws_sns_topic.alarms.arn]
  ok_actions          = [aws_sns_topic.alarms.arn]
}

resource "aws_cloudwatch_dashboard" "main" {
  dashboard_name = "${var.name}-${data.aws_region.current.name}"
  dashboard_body = jsonencode({
    widgets = concat([
      {
        type = "metric", x = 0, y = 0, width = 12, height = 6
        properties = {
          title = "Tasks", region = data.aws_region.current.name, stat = "Sum", period = 300
          metrics = [
            for name in ["TasksSubmitted", "TasksRejected", "TasksSucceeded", "TasksFailed"] :
            [local.ns, name, "service", name == "TasksSubmitted" || name == "TasksRejected" ? "submit" : "job_state"]
          ]
        }
      },
      {
        type = "metric", x = 12, y = 0, width = 12, height = 6
        properties = {
          title = "Waiting (s)", region = data.aws_region.current.name, stat = "Maximum", period = 300
          metrics = [
            [local.ns, "OldestWaitingTaskAgeSeconds", "service", "sweeper"],
            [local.ns, "OldestRunnableTaskAgeSeconds", "service", "sweeper"],
            [local.ns, "TurnaroundSeconds", "service", "job_state", { stat = "Average" }],
          ]
        }
      },
      {
        type = "metric", x = 0, y = 6, width = 12, height = 6
        properties = {
          title = "Functions: errors and throttles", region = data.aws_region.current.name, stat = "Sum", period = 300
          metrics = concat(
            [for fn in values(var.function_names) : ["AWS/Lambda", "Errors", "FunctionName", fn]],
            [for fn in values(var.function_names) : ["AWS/Lambda", "Throttles", "FunctionName", fn]],
          )
        }
      },
      {
        type = "metric", x = 12, y = 6, width = 12, height = 6
        properties = {
          title = "Queues and API", region = data.aws_region.current.name, stat = "Maximum", period = 300
          metrics = concat(
            [for q in values(var.dlq_names) : ["AWS/SQS", "ApproximateNumberOfMessagesVisible", "QueueName", q]],
            [["AWS/ApiGateway", "5XXError", "ApiName", var.api_name, "Stage", var.api_stage, { stat = "Sum" }]],
          )
        }
      },
      ], [
      for portal in(var.portal == null ? [] : [var.portal]) : {
        type = "metric", x = 0, y = 12, width = 24, height = 6
        properties = {
          title = "Portal: 5xx and unhealthy tasks", region = data.aws_region.current.name, stat = "Sum", period = 300
          metrics = [
            ["AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", "LoadBalancer", portal.load_balancer],
            ["AWS/ApplicationELB", "HTTPCode_ELB_5XX_Count", "LoadBalancer", portal.load_balancer],
            ["AWS/ApplicationELB", "UnHealthyHostCount", "TargetGroup", portal.target_group, "LoadBalancer", portal.load_balancer, { stat = "Maximum" }],
          ]
        }
      }
    ])
  })
}
