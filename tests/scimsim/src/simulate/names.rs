//! The words a generated organisation is made of: names, departments with their divisions and
//! titles, offices, projects.

#[rustfmt::skip]
pub const GIVEN: &[&str] = &[
    "Ada", "Grace", "Alan", "Katherine", "Edsger", "Barbara", "Donald", "Frances", "John",
    "Margaret", "Ken", "Radia", "Dennis", "Hedy", "Linus", "Joan", "Tim", "Shafi", "Leslie",
    "Sophie", "Niklaus", "Anita", "Guido", "Karen", "Bjarne", "Lynn", "James", "Mary", "Vint",
    "Carol", "Yukihiro", "Elena", "Ravi", "Amara", "Kenji", "Ines", "Tariq", "Priya", "Mateo",
    "Zainab",
];

#[rustfmt::skip]
pub const FAMILY: &[&str] = &[
    "Lovelace", "Hopper", "Turing", "Johnson", "Dijkstra", "Liskov", "Knuth", "Allen", "McCarthy",
    "Hamilton", "Thompson", "Perlman", "Ritchie", "Lamarr", "Torvalds", "Clarke", "Berners-Lee",
    "Goldwasser", "Lamport", "Wilson", "Wirth", "Borg", "Van Rossum", "Jones", "Stroustrup",
    "Conway", "Gosling", "Keller", "Cerf", "Shaw", "Matsumoto", "Petrova", "Iyer", "Okafor",
    "Tanaka", "Moreau", "Haddad", "Raman", "Silva", "Bello",
];

/// Departments, each with its division and the titles of its individual contributors.
#[rustfmt::skip]
pub const DEPARTMENTS: &[(&str, &str, &[&str])] = &[
    ("Engineering", "Technology", &["Software Engineer", "Senior Software Engineer", "Staff Engineer", "QA Engineer"]),
    ("Sales", "Go-to-Market", &["Account Executive", "Sales Development Representative", "Solutions Consultant"]),
    ("Marketing", "Go-to-Market", &["Marketing Specialist", "Content Strategist", "Growth Analyst"]),
    ("Finance", "Corporate", &["Financial Analyst", "Accountant", "Payroll Specialist"]),
    ("People", "Corporate", &["People Partner", "Recruiter", "Learning Specialist"]),
    ("Operations", "Corporate", &["Operations Analyst", "IT Support Specialist", "Facilities Coordinator"]),
    ("Customer Success", "Go-to-Market", &["Customer Success Manager", "Support Engineer", "Onboarding Specialist"]),
    ("Product", "Technology", &["Product Manager", "Product Analyst", "Technical Writer"]),
    ("Legal", "Corporate", &["Counsel", "Paralegal", "Compliance Analyst"]),
    ("Design", "Technology", &["Product Designer", "UX Researcher", "Brand Designer"]),
];

/// Offices: country, city, region, postal code, phone prefix, street.
#[rustfmt::skip]
pub const OFFICES: &[(&str, &str, &str, &str, &str, &str)] = &[
    ("US", "New York", "NY", "10001", "+1 212 555", "Hudson Yards"),
    ("US", "San Francisco", "CA", "94105", "+1 415 555", "Market Street"),
    ("GB", "London", "England", "EC1A 1BB", "+44 20 7946", "Old Street"),
    ("DE", "Berlin", "Berlin", "10115", "+49 30 5550", "Invalidenstrasse"),
    ("FR", "Paris", "Ile-de-France", "75002", "+33 1 5550", "Rue du Sentier"),
    ("IN", "Bengaluru", "Karnataka", "560001", "+91 80 5550", "MG Road"),
    ("SG", "Singapore", "Singapore", "018956", "+65 6555", "Marina Boulevard"),
    ("AU", "Sydney", "NSW", "2000", "+61 2 5550", "George Street"),
    ("CA", "Toronto", "ON", "M5V 2T6", "+1 416 555", "King Street West"),
    ("BR", "Sao Paulo", "SP", "01310-100", "+55 11 5555", "Avenida Paulista"),
];

#[rustfmt::skip]
pub const PROJECTS: &[&str] = &[
    "Project Atlas", "Project Borealis", "Project Comet", "Project Delta", "Project Ember",
    "Project Fjord",
];
