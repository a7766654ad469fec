# DynamoDB tables of resources.json (PITR, TTL where described, SSE under the
# region's key) and, in the portal's region, the portal's PostgreSQL database.

resource "aws_dynamodb_table" "table" {
  for_each                    = var.tables
  name                        = each.value.name
  billing_mode                = "PAY_PER_REQUEST"
  hash_key                    = each.value.hash_key
  range_key                   = try(each.value.range_key, null)
  deletion_protection_enabled = var.deletion_protection

  dynamic "attribute" {
    for_each = each.value.attributes
    content {
      name = attribute.key
      type = attribute.value
    }
  }

  dynamic "global_secondary_index" {
    for_each = each.value.indexes
    content {
      name            = global_secondary_index.key
      hash_key        = global_secondary_index.value.hash_key
      range_key       = global_secondary_index.value.range_key
      projection_type = "ALL"
    }
  }

  dynamic "ttl" {
    for_each = try(each.value.ttl, null) == null ? [] : [each.value.ttl]
    content {
      enabled        = true
      attribute_name = ttl.value
    }
  }

  point_in_time_recovery {
    enabled = true
  }

  server_side_encryption {
    enabled     = true
    kms_key_arn = var.kms_key_arn
  }
}

resource "aws_db_subnet_group" "portal" {
  count      = var.database ? 1 : 0
  name       = "${var.name}-portal"
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "database" {
  count       = var.database ? 1 : 0
  name        = "${var.name}-portal-db"
  description = "The portal database: PostgreSQL from the portal's tasks only"
  vpc_id      = var.vpc_id
}

ephemeral "aws_secretsmanager_random_password" "database" {
  count               = var.database ? 1 : 0
  password_length     = 40
  exclude_punctuation = true
}

resource "aws_db_parameter_group" "portal" {
  count  = var.database ? 1 : 0
  name   = "${var.name}-portal"
  family = "postgres16"
  parameter {
    name  = "rds.force_ssl"
    value = "1"
  }
  parameter {
    name  = "log_min_duration_statement"
    value = "1000"
  }
}

resource "aws_db_instance" "portal" {
  #checkov:skip=CKV_AWS_118:Enhanced monitoring adds an agent role for OS metrics the portal's small database does not need; CloudWatch's RDS metrics and Performance Insights cover it.
  #checkov:skip=CKV2_AWS_30:Query logging is configured through log_min_duration_statement (slow queries) in the parameter group; logging every statement would log account e-mail addresses.
  count                               = var.database ? 1 : 0
  identifier                          = "${var.name}-portal"
  engine                              = "postgres"
  engine_version                      = "16.4"
  instance_class                      = var.database_instance_class
  allocated_storage                   = 20
  max_allocated_storage               = 100
  storage_encrypted                   = true
  kms_key_id                          = var.kms_key_arn
  db_name                             = "portal"
  username                            = "portal"
  password_wo                         = ephemeral.aws_secretsmanager_random_password.database[0].random_password
  password_wo_version                 = var.database_password_version
  db_subnet_group_name                = aws_db_subnet_group.portal[0].name
  vpc_security_group_ids              = [aws_security_group.database[0].id]
  parameter_group_name                = aws_db_parameter_group.portal[0].name
  publicly_accessible                 = false
  multi_az                            = var.database_multi_az
  backup_retention_period             = 14
  deletion_protection                 = var.deletion_protection
  skip_final_snapshot                 = !var.deletion_protection
  final_snapshot_identifier           = var.deletion_protection ? "${var.name}-portal-final" : null
  copy_tags_to_snapshot               = true
  auto_minor_version_upgrade          = true
  iam_database_authentication_enabled = true
  performance_insights_enabled        = true
  performance_insights_kms_key_id     = var.kms_key_arn
  enabled_cloudwatch_logs_exports     = ["postgresql", "upgrade"]
}

resource "aws_secretsmanager_secret" "database_url" {
  #checkov:skip=CKV2_AWS_57:The password is set through Terraform's write-only argument; rotating it is a new database_password_version and an apply, which updates database and secret together.
  count                   = var.database ? 1 : 0
  name                    = "${var.name}/portal/database-url"
  description             = "The portal's YC_PORTAL_DATABASE_URL (postgresql://portal:...@host/portal)"
  kms_key_id              = var.kms_key_arn
  recovery_window_in_days = var.deletion_protection ? 30 : 0
}

resource "aws_secretsmanager_secret_version" "database_url" {
  count                    = var.database ? 1 : 0
  secret_id                = aws_secretsmanager_secret.database_url[0].id
  secret_string_wo_version = var.database_password_version
  secret_string_wo = format("postgresql+psycopg://%s@%s/portal?sslmode=require",
    join(":", ["portal", ephemeral.aws_secretsmanager_random_password.database[0].random_password]),
  aws_db_instance.portal[0].endpoint)
}
