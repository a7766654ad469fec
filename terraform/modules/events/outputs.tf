output "queue_arns" {
  description = "Queue key => ARN."
  value       = { for key, queue in aws_sqs_queue.queue : key => queue.arn }
}

output "dlq_names" {
  description = "Queue key => its dead-letter queue's name."
  value       = { for key, queue in aws_sqs_queue.dlq : key => queue.name }
}
