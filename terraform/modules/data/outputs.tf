output "table_arns" {
  description = "Table key => ARN."
  value       = { for key, table in aws_dynamodb_table.table : key => table.arn }
}

output "table_names" {
  description = "Table key => name."
  value       = { for key, table in aws_dynamodb_table.table : key => table.name }
}

output "database_security_group_id" {
  description = "The database's security group (null without a database)."
  value       = var.database ? aws_security_group.database[0].id : null
}

output "database_url_secret_arn" {
  description = "The secret holding the portal's database URL (null without a database)."
  value       = var.database ? aws_secretsmanager_secret.database_url[0].arn : null
}
