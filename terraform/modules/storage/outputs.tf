output "kms_key_arn" {
  description = "The region's customer-managed key."
  value       = aws_kms_key.main.arn
}

output "bucket_arns" {
  description = "Bucket key => ARN."
  value       = { for key, bucket in aws_s3_bucket.bucket : key => bucket.arn }
}

output "bucket_names" {
  description = "Bucket key => name."
  value       = { for key, bucket in aws_s3_bucket.bucket : key => bucket.id }
}
