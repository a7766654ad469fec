output "job_queue_arns" {
  description = "Job queue key => ARN."
  value       = { for key, queue in aws_batch_job_queue.queue : key => queue.arn }
}

output "job_queue_names" {
  description = "Job queue key => name."
  value       = { for key, queue in aws_batch_job_queue.queue : key => queue.name }
}

output "job_definition_arn_prefix" {
  description = "The worker's job definition ARN without its revision."
  value       = aws_batch_job_definition.worker.arn_prefix
}

output "repository_url" {
  description = "Where scripts/deploy pushes recon_image."
  value       = aws_ecr_repository.worker.repository_url
}
