# EventBridge rules of resources.json, each into its SQS queue; every queue has
# a dead-letter queue that keeps what failed maxReceiveCount times for 14 days.

resource "aws_sqs_queue" "dlq" {
  for_each                          = var.queues
  name                              = each.value.dlq
  message_retention_seconds         = 1209600
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
}

resource "aws_sqs_queue" "queue" {
  for_each                          = var.queues
  name                              = each.value.name
  visibility_timeout_seconds        = each.value.visibility_timeout_seconds
  kms_master_key_id                 = var.kms_key_arn
  kms_data_key_reuse_period_seconds = 3600
  redrive_policy = jsonencode({
    deadLetterTargetArn = aws_sqs_queue.dlq[each.key].arn
    maxReceiveCount     = each.value.max_receive_count
  })

  lifecycle {
    precondition {
      condition     = each.value.max_receive_count >= 3 && each.value.max_receive_count <= 5
      error_message = "resources.json: a queue's max_receive_count must be 3 to 5."
    }
  }
}

resource "aws_cloudwatch_event_rule" "rule" {
  for_each      = var.rules
  name          = each.value.name
  event_pattern = jsonencode(each.value.pattern)
}

resource "aws_cloudwatch_event_target" "rule" {
  for_each = var.rules
  rule     = aws_cloudwatch_event_rule.rule[each.key].name
  arn      = aws_sqs_queue.queue[each.value.queue].arn
}

data "aws_iam_policy_document" "queue" {
  for_each = var.queues
  statement {
    sid       = "EventBridgeRulesSend"
    actions   = ["sqs:SendMessage"]
    resources = [aws_sqs_queue.queue[each.key].arn]
    principals {
      type        = "Service"
      identifiers = ["events.amazonaws.com"]
    }
    condition {
      test     = "ArnEquals"
      variable = "aws:SourceArn"
      values = [
        for key, rule in var.rules : aws_cloudwatch_event_rule.rule[key].arn
        if rule.queue == each.key
      ]
    }
  }
}

resource "aws_sqs_queue_policy" "queue" {
  for_each  = var.queues
  queue_url = aws_sqs_queue.queue[each.key].id
  policy    = data.aws_iam_policy_document.queue[each.key].json
}
